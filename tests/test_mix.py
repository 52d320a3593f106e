"""Context mixing (block method 11, lstmzip.stages.mix): its tables, its exactness across row
orders (across batches: tests/test_device_stages.py, for every device recipe), and that it
earns its place on text that repeats."""
from __future__ import annotations

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


def test_updates_do_not_depend_on_the_order_of_the_rows():
    """Rows that share counters, weights and map cells in one step (the same contexts): the
    tables after the step are the same whichever order the rows come in."""
    def tables(order: torch.Tensor) -> list[torch.Tensor]:
        rows = RowBatch.plain([6 * 100], [6], torch.device("cpu"))
        st = mix.MixStage(mix.MixConfig(), rows)
        g = torch.Generator().manual_seed(1)
        for t in range(4):
            f = torch.randint(1, 1 << 20, (6, 256), generator=g)
            y = torch.tensor([101, 101, 32, 101, 32, 7])
            st.ctx[:] = torch.tensor([5, 5, 5, 9, 9, 5]) * (t + 1)
            # as if the rows were listed in `order`: the stage sees them permuted
            st.ctx[:] = st.ctx[order]
            st.hi(f[order], None)
            st.lo(y[order] >> 4)
            st.update(y[order], None)
        return [st.counters.clone(), st.weights.clone(), st.apm.clone()]

    a, b = tables(torch.arange(6)), tables(torch.tensor([5, 3, 0, 4, 1, 2]))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert (a[0] != 0).any() and not torch.equal(a[1], mix.MixStage(mix.MixConfig(), RowBatch.plain(
        [600], [6], torch.device("cpu"))).weights)


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
