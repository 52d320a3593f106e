"""Context mixing (block methods 11 to 14, lstmzip.stages.mix): its tables, its exactness across
row orders (across batches: tests/test_device_stages.py, for every device recipe), and that it
earns its place on text that repeats."""
from __future__ import annotations

import dataclasses
import numpy as np
import pytest
import torch

import lstmzip
from lstmzip.container import Method
from lstmzip.engines import engine_for, load_model
from lstmzip.pipeline import CodingConfig
from lstmzip.stages import mix
from lstmzip.stages.coding import encode_blocks
from lstmzip.stages.recipes import RECIPES
from lstmzip.stages.rows import RowBatch
from tests.golden.make_golden import ORIGINAL

SAMPLE = ORIGINAL.read_bytes()
RECIPE = RECIPES[Method.LSTM_MIX]


@pytest.fixture(scope="module")
def engine():
    return engine_for(load_model("default"))


def test_squash_and_stretch_invert_each_other():
    sq = mix.squash_table()
    st = mix.stretch_table(sq)
    assert sq[0] == 1 and sq[-1] == 4095 and sq[mix.ST_MAX] == 2048
    assert np.all(np.diff(sq) >= 0) and np.all(np.diff(st) >= 0)
    p = np.arange(1, 4096)
    assert np.abs(sq[st[p] + mix.ST_MAX] - p).max() <= 3
    assert st[2048] == 0 and st[4095] > 1500 and st[1] == -mix.ST_MAX


def test_nibble_frequencies_are_the_products_along_each_path():
    p = torch.full((1, 15), 2048, dtype=torch.int64)
    assert mix._nibble_freqs(p).tolist() == [[1 << 20] * 16]  # even odds: 2^24 / 16 each
    p = torch.randint(1, 4096, (50, 15))
    f = mix._nibble_freqs(p)
    assert f.min() >= 1 and f.sum(1).max() <= 1 << 24
    # value 0 takes the zero branch at nodes 1, 2, 4, 8
    expect = 1 << 24
    for node in (1, 2, 4, 8):
        expect -= (expect * p[:, node - 1]) >> 12
    assert torch.equal(f[:, 0], expect.clamp(min=1))


class _Match:
    """What the mixing reads of the match model in a step (MatchStage after adjust)."""

    def __init__(self, rows: int):
        self.len_edges = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32, 48])
        self.has = torch.zeros(rows, dtype=torch.bool)
        self.predicted = torch.zeros(rows, dtype=torch.int64)
        self.length = torch.zeros(rows, dtype=torch.int64)


@pytest.mark.parametrize("cfg", [mix.MIX_V1, mix.MIX_V2, mix.MIX_V3, mix.MIX_V4, mix.MIX_V10],
                         ids=["MIX_V1", "MIX_V2", "MIX_V3", "MIX_V4", "MIX_V10"])
def test_updates_do_not_depend_on_the_order_of_the_rows(cfg):
    """Rows that share counters, weights, map cells and match cells in one step (the same
    contexts, the same predictions): the tables after the step are the same whichever order
    the rows come in."""
    def tables(order: torch.Tensor) -> list[torch.Tensor]:
        rows = RowBatch.of([6 * 100], [6], torch.device("cpu"))
        match = _Match(6)
        st = mix.MixStage(cfg, rows, match)
        g = torch.Generator().manual_seed(1)
        for t in range(4):
            f = torch.randint(1, 1 << 20, (6, 256), generator=g)
            y = torch.tensor([101, 101, 32, 101, 32, 7])
            st.ctx[:] = torch.tensor([5, 5, 5, 9, 9, 5]) * (t + 1)
            # predictions right, wrong in the second nibble, in the first, none; long and short
            match.has[:] = torch.tensor([True, True, True, False, True, True])[order]
            match.predicted[:] = torch.tensor([101, 102, 32, 0, 48, 7])[order]
            match.length[:] = torch.tensor([20, 3, 40, 0, 16, 1])[order]
            # as if the rows were listed in `order`: the stage sees them permuted
            st.ctx[:] = st.ctx[order]
            st.hi(f[order], None)
            st.lo(y[order] >> 4)
            st.update(y[order], None)
        return [st.counters.clone(), st.weights.clone(), st.apm.clone()] + (
            [st.match_p.clone()] if cfg.match_input else []) + ([st.class_w.clone()] if cfg.class_weights else [])

    a, b = tables(torch.arange(6)), tables(torch.tensor([5, 3, 0, 4, 1, 2]))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert (a[0] != 0).any() and not torch.equal(a[1], mix.MixStage(cfg, RowBatch.of(
        [600], [6], torch.device("cpu")), _Match(6)).weights)
    if cfg.match_input:  # the cells of lengths 3, 16, 20, 40 (and 1) learned; 0 did not
        assert (a[3] != 3 << 14).sum() >= 4 and a[3][0] == 3 << 14
    if cfg.class_weights:  # the previous byte's classes learned
        assert (a[-1] != 0).any()


@pytest.mark.parametrize("shares, n, moved", [("mean", 9, 90), ("sqrt", 9, 3 * 90), ("sqrt", 1, 90)])
def test_shares_of_one_entry(shares, n, moved):
    """n updates of 90 aimed at one map cell in a step: "mean" adds 90 (9 shares of 10), "sqrt"
    90 sqrt(n) (9 shares of 90 * 16 / 48 = 30); another block's rows aiming at the same place
    in its own part of the map don't count, nor do updates of another table whose entries have
    the same key (the counters' here)."""
    rows = RowBatch.of([n * 100, n * 100], [n, n], torch.device("cpu"))
    st = mix.MixStage(dataclasses.replace(mix.MIX_V1, shares=shares), rows)
    first = st.apm_base.clone()  # block 0's map, block 1's
    at = first + 7
    counters = st.entry_base + 7
    before = st.params.clone()
    st._add_shares([("counters", counters, st.entry_base, torch.full((2 * n, 1), 50)),
                    ("apm", at, first, torch.full((2 * n, 1), 90))], None)
    moved_by = st.params - before
    assert moved_by[int(at[0])] == moved and moved_by[int(at[-1])] == moved
    assert int(moved_by.abs().sum()) == 2 * moved
    # the counters counted their own n steps: n shares of round(50 / n) (with the map's too:
    # round(50 / 2n), 9 * 3 or 1 * 25)
    assert st.counters.view(-1)[7] == n * ((100 + n) // (2 * n))


def test_fresh_weight_sets_learn_faster():
    """MIX_V3's warm-up: a weight set's first update is warm_boost (4) times the plain step,
    and the factor falls towards 1 as the set's updates add up."""
    def moved(cfg, steps: int) -> list[int]:
        rows = RowBatch.of([100], [1], torch.device("cpu"))
        st = mix.MixStage(cfg, rows, _Match(1))
        f = torch.full((1, 256), 1 << 10)
        out = []
        for _ in range(steps):
            before = st.weights.clone()
            st.hi(f, None)
            st.lo(torch.tensor([6]))
            st.update(torch.tensor([0x61]), None)
            out.append(int((st.weights - before).abs().sum()))
            st.ctx.zero_(), st.word.zero_()
        return out

    warm, plain = moved(mix.MIX_V3, 40), moved(dataclasses.replace(mix.MIX_V3, weight_warm=0), 40)
    assert 3.5 < warm[0] / plain[0] < 4.5, (warm[0], plain[0])
    assert warm[-1] / plain[-1] < warm[0] / plain[0]


def test_mixing_pays_on_text_that_repeats(engine):
    """Method 11 against method 10 (the same stages without mixing) on text whose phrases
    recur with variations: the counters must learn them."""
    rng = np.random.default_rng(3)
    words = SAMPLE.split()
    lines = [b" ".join(rng.choice(words[:60], size=8)) + b"\n" for _ in range(40)]
    data = b"".join(lines[i] for i in rng.integers(0, 40, size=250))
    streams = [max(1, len(data) // 2048)]
    plain, = encode_blocks(engine, [data], streams, RECIPES[Method.LSTM_RANS])
    mixed, = encode_blocks(engine, [data], streams, RECIPE)
    assert len(mixed[0]) < 0.97 * len(plain[0]), (len(mixed[0]), len(plain[0]))


def test_match_input_pays_on_long_repeats(engine):
    """Method 12 against method 11 on text that repeats whole lines exactly: long matches."""
    rng = np.random.default_rng(4)
    words = SAMPLE.split()
    lines = [b" ".join(rng.choice(words, size=12)) + b"\n" for _ in range(30)]
    data = b"".join(lines[i] for i in rng.integers(0, 30, size=300))
    streams = [max(1, len(data) // 2048)]
    mixed, = encode_blocks(engine, [data], streams, RECIPE)
    matched, = encode_blocks(engine, [data], streams, RECIPES[Method.LSTM_MIX2])
    assert len(matched[0]) < 0.95 * len(mixed[0]), (len(matched[0]), len(mixed[0]))


def test_method_11_through_the_api():
    cfg = CodingConfig(lstm_method=Method.LSTM_MIX, block_size=1000, min_stream_len=300, try_lzma=False)
    made = [lstmzip.compress(SAMPLE, config=CodingConfig(**{**cfg.__dict__, "batch_blocks": b})) for b in (1, 3)]
    assert made[0] == made[1]
    assert lstmzip.decompress(made[0]) == SAMPLE


def test_cli_method_lstm_mix(runner, tmp_path):
    """--method lstm_mix on compress and on bpc: method 11 blocks, decoded by plain decompress."""
    import json

    from lstmzip.cli import app
    from lstmzip.container import read_header, read_record

    src = tmp_path / "sample.txt"
    src.write_bytes(SAMPLE)
    r = runner.invoke(app, ["compress", "-q", "--method", "lstm_mix", str(src)])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "sample.txt.lstmz", "rb") as f:
        read_header(f)
        assert read_record(f).method == Method.LSTM_MIX
    src.unlink()
    assert runner.invoke(app, ["decompress", "-q", str(tmp_path / "sample.txt.lstmz")]).exit_code == 0
    assert src.read_bytes() == SAMPLE
    r = runner.invoke(app, ["bpc", "-q", "--json", "--method", "lstm_mix", str(src)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.splitlines()[-1])["methods"] == ["lstm_mix"]


def test_context_weights_by_confidence_level():
    """MIX_V4: a context's weight is read and learned at its bucket's visit level. A row whose
    contexts repeat moves the context weights of level 1 (1-3 visits) from its second step and
    of level 2 (4-15) from its fifth; never those of level 0 (a fresh bucket's counters say 1/2:
    input 0), nor those of a level its buckets have not reached; the LSTM's and the constant's
    weights stay at level 0."""
    rows = RowBatch.of([400], [1], torch.device("cpu"))
    st = mix.MixStage(mix.MIX_V4, rows, _Match(1))
    w = st.weights.view(-1, st.levels, st.n_in)  # [set and node, level, input]
    f = torch.full((1, 256), 1 << 10)
    first_moved = {}
    st.ctx.fill_(0x61)
    for step in range(12):
        before = w.clone()
        st.hi(f, None)
        st.lo(torch.tensor([6]))
        st.update(torch.tensor([0x61]), None)
        st.ctx.fill_(0x61), st.word.zero_()  # the same contexts every step
        moved = (w != before).any(0)  # [level, input]
        for level in range(st.levels):
            if moved[level, 1 : 1 + st.n_ctx].any():
                first_moved.setdefault(level, step)
        assert not moved[1:, 0].any() and not moved[1:, -1].any()
    assert first_moved == {1: 1, 2: 4}, first_moved


def test_own_order_tables_are_kept_per_stream():
    """MIX_V6: orders 2 and 4 again, keyed by the stream too. Two streams in the same context
    read the same buckets of the shared tables and different ones of their own; where only
    stream 0 is in that context for a few steps, stream 1 then finds its own buckets fresh
    (visits 0) and the shared ones seen."""
    cfg = mix.MIX_V6
    rows = RowBatch.of([600], [2], torch.device("cpu"))
    st = mix.MixStage(cfg, rows, _Match(2))
    shared, own = len(cfg.orders) + int(cfg.word), len(cfg.own_orders)
    assert st.n_ctx == shared + own == 8
    f = torch.full((2, 256), 1 << 10)

    def step(ctx: list[int], y: list[int]) -> torch.Tensor:
        st.ctx[:] = torch.tensor(ctx)
        st.word.zero_()
        st.hi(f, None)
        buckets, visits = st._first[0].squeeze(2), st._first[1].squeeze(2)  # [rows, contexts]
        st.lo(torch.tensor(y) >> 4)
        st.update(torch.tensor(y), None)
        return buckets, visits

    buckets, _ = step([0x616263, 0x616263], [0x64, 0x64])
    assert torch.equal(buckets[0, :shared], buckets[1, :shared])
    assert (buckets[0, shared:] != buckets[1, shared:]).all()
    for _ in range(3):  # stream 0 alone in a new context
        step([0x787879, 0x313233], [0x7A, 0x34])
    _, visits = step([0x787879, 0x787879], [0x7A, 0x7A])
    assert (visits[1, :shared] > 0).all() and (visits[1, shared:] == 0).all()
    assert (visits[0, shared:] > 0).all()


def test_word_history_tables_are_keyed_by_the_words_before():
    """MIX_V7: tables keyed by the last word and the last two words. Two streams on the same
    word and byte after different previous words share the plain word table's bucket, not the
    word-pair tables'; a word moves into the history only when it ends, and the two-word table
    tells apart what the one-word table does not."""
    cfg = mix.MIX_V7
    rows = RowBatch.of([600], [2], torch.device("cpu"))
    st = mix.MixStage(cfg, rows, _Match(2))
    word_at = len(cfg.orders)  # the word's table, then the histories' (no own orders)
    assert st.n_ctx == word_at + 1 + cfg.word_history == 6
    f = torch.full((2, 256), 1 << 10)

    def code(texts: list[bytes]) -> torch.Tensor:
        """Code the two rows' bytes in lockstep; the buckets read for the last ones."""
        for a, b in zip(*texts):
            st.hi(f, None)
            buckets = st._first[0].squeeze(2)
            y = torch.tensor([a, b])
            st.lo(y >> 4)
            st.update(y, None)
        return buckets

    # "red catalog" against "big catalog": at the last byte the same word, byte and last 6 bytes
    buckets = code([b"xx red catalog", b"xx big catalog"])
    assert torch.equal(buckets[0, : word_at + 1], buckets[1, : word_at + 1])
    assert (buckets[0, word_at + 1 :] != buckets[1, word_at + 1 :]).all()
    assert (st.words_before[:, 0] != 0).all() and st.words_before[0, 0] != st.words_before[1, 0]
    # inside a word the history stays; at the byte after it the word moves in
    before = st.words_before.clone()
    code([b"s", b"s"])
    assert torch.equal(st.words_before, before)
    code([b" ", b" "])
    assert torch.equal(st.words_before[:, 1], before[:, 0]) and (st.words_before[:, 0] != before[:, 0]).all()
    # the same last word, different words two back: the one-word table shares, the two-word not
    st.words_before[:, 0], st.words_before[:, 1] = 5, torch.tensor([11, 12])
    buckets = code([b"a", b"a"])
    assert buckets[0, word_at + 1] == buckets[1, word_at + 1] and buckets[0, word_at + 2] != buckets[1, word_at + 2]


def test_checked_buckets_go_to_the_highest_claim_whatever_the_order_of_the_rows():
    """MIX_V10-12: a bucket stays with a context whose check it holds; else the largest check
    takes it, reset to fresh counters, unless it has been seen check_keep times (it keeps its
    counters and loses a visit); the contexts that lost update the block's sink bucket."""
    cfg = mix.MIX_V11
    assert cfg.check_bits == 7 and cfg.check_keep == 2

    def take(order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        st = mix.MixStage(cfg, RowBatch.of([600], [6], torch.device("cpu")), _Match(6))
        flat = st.counters.view(-1)
        # buckets 10, 20, 30: check 5, seen 3, 1 and 4 times; bucket 40 fresh (check 0, unseen)
        for bucket, seen in ((10, 3), (20, 1), (30, 4)):
            flat[bucket * 16] = (5 << 8) + seen
            flat[bucket * 16 + 1 : bucket * 16 + 16] = 77
        buckets = torch.tensor([10, 10, 20, 20, 30, 40])
        check = torch.tensor([5, 9, 9, 12, 9, 3])
        stored = flat.index_select(0, buckets * 16).to(torch.int64)
        visits = torch.where((stored >> 8) == check, stored & 255, 0)
        shape = (6, 1, 1)
        got, checks = st._take_buckets(*(x[order].view(shape) for x in (buckets, check, stored, visits)), None)
        assert torch.equal(checks.view(-1), check[order])
        sink = int(st.sink[0])
        back = torch.empty(6, dtype=torch.int64)
        back[order] = got.view(-1)
        assert back.tolist() == [10, sink, sink, 20, sink, 40]
        return back, torch.stack([flat[b * 16 : b * 16 + 16] for b in (10, 20, 30, 40)])

    _, tables = take(torch.arange(6))
    assert tables[0, 0] == (5 << 8) + 3 and (tables[0, 1:] == 77).all()  # held: stays
    assert tables[1, 0] == 12 << 8 and (tables[1, 1:] == 0).all()  # seen once: the largest check, reset
    assert tables[2, 0] == (5 << 8) + 3 and (tables[2, 1:] == 77).all()  # seen 4 times: kept, one visit less
    assert tables[3, 0] == 3 << 8 and (tables[3, 1:] == 0).all()  # fresh: taken
    for order in (torch.tensor([5, 3, 0, 4, 1, 2]), torch.tensor([1, 0, 3, 2, 5, 4])):
        assert torch.equal(take(order)[1], tables)
