"""Hostile archives, damage reports, bounded memory and streaming (issue: reliability)."""
import io
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lstmzip
from lstmzip import container as ct
from lstmzip.api import compress_stream, decompress_stream
from lstmzip.errors import ArchiveError, BlockDamaged, LstmzipError
from lstmzip.pipeline import CodingConfig
from tests.fuzz.mutations import TEXT, mutate, records, rewrite_field, seeds


@pytest.fixture(scope="module")
def seed_archives():
    return seeds()


class _Pipe(io.RawIOBase):
    """A non-seekable reader, like stdin from a pipe."""

    def __init__(self, data: bytes):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        chunk = self._f.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


def _hostile_block(raw_len: int, coded_len: int, method: int, model_len: int, streams: int) -> bytes:
    head = ct.pack_header("00" * 32)
    return head + ct.pack_block(ct.BlockHeader(raw_len, coded_len, method, 0, model_len, streams, 0)) + b"x" * 40


@pytest.mark.parametrize("source", ["file", "pipe"])
def test_lying_lengths_cost_no_memory(source):
    """A 100-byte archive claiming a 64 MiB block: refused before (file) or while (pipe) reading,
    without allocating what the header claims."""
    bad = _hostile_block(64 << 20, 64 << 20, int(ct.Method.STORED), 0, 0)
    assert len(bad) < 200
    f = io.BytesIO(bad) if source == "file" else io.BufferedReader(_Pipe(bad))
    tracemalloc.start()
    with pytest.raises(ArchiveError, match="truncated"):
        decompress_stream(f, io.BytesIO())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20, peak


@pytest.mark.parametrize("fields", [
    (1 << 30, 10, 3, 1 << 30, 1),  # block over the 64 MiB cap
    (1 << 20, 8, 3, 1 << 20, 1),  # more output than the coded bytes can hold
    (1000, 100, 3, 1000, 1 << 15),  # more streams than the context bias allows
    (1 << 20, 1 << 10, 1, 1 << 20, 1 << 20),  # 1M streams of engine state (GBs) from a 1 KB payload
    (1000, 100, 3, 900, 901),  # more streams than bytes
    (1000, 900, 0, 0, 0),  # stored block whose payload is not its size
    (80, 80, 1, 0, 0),  # an LSTM block with no streams (found by the fuzzer: a division by zero)
    (1000, 1000, 0, 1000, 1),  # a stored block with model fields
    (1000, 100, max(ct.Method) + 1, 1000, 1),  # unknown method (the next one)
])
def test_impossible_headers_refused_before_decoding(fields):
    with pytest.raises(ArchiveError, match="impossible block sizes|unknown block method"):
        lstmzip.decompress(_hostile_block(*fields))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_any_mutation_gives_the_original_or_a_clean_error(seed_archives, which, rng_seed):
    s = seed_archives[which % len(seed_archives)]
    bad = mutate(s.archive, random.Random(rng_seed), [a.archive for a in seed_archives])
    try:
        out = lstmzip.decompress(bad)
    except LstmzipError:
        return
    # unchanged, or spliced into exactly another seed's archive (the seeds share one header)
    assert out == {a.archive: a.original for a in seed_archives}.get(bad, s.original)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_hostile_fields_with_valid_crcs(seed_archives, which, rng_seed):
    """Header fields rewritten and their CRC fixed: the caps and the decoder must still hold."""
    s = seed_archives[which % len(seed_archives)]
    buf = bytearray(s.archive)
    rewrite_field(buf, random.Random(rng_seed))
    try:
        out = lstmzip.decompress(bytes(buf))
    except LstmzipError:
        return
    assert out == s.original


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([CodingConfig(), CodingConfig(lstm=False),
                                                  CodingConfig(block_size=64, min_stream_len=16)]))
def test_arbitrary_bytes_round_trip(data, config):
    assert lstmzip.decompress(lstmzip.compress(data, config=config)) == data


def _damage_payload(archive: bytes, block: int) -> bytes:
    """Flip a byte in the middle of block `block`'s payload (its header stays valid)."""
    start, size, rec = records(archive)[1 + block]
    bad = bytearray(archive)
    bad[start + size + rec.coded_len // 2] ^= 0x55
    return bytes(bad)


def test_damage_names_the_block_and_its_byte_ranges():
    data = TEXT * 4
    arc = lstmzip.compress(data, config=CodingConfig(block_size=100, lstm=False))
    with pytest.raises(BlockDamaged, match=r"block 2 is damaged .*original bytes 200-299, archive bytes \d+-\d+"):
        lstmzip.decompress(_damage_payload(arc, 2))


def test_verify_reports_every_damaged_block():
    data = TEXT * 4
    arc = lstmzip.compress(data, config=CodingConfig(block_size=100, lstm=False))
    bad = _damage_payload(_damage_payload(arc, 1), 3)
    with pytest.raises(BlockDamaged, match=r"2 of \d+ blocks damaged: block 1 \(original bytes 100-199.*block 3 \("):
        decompress_stream(io.BytesIO(bad), None)


def test_fast_path_and_progress_counts_every_byte():
    data = TEXT * 50
    for cfg in (CodingConfig(lstm=False, block_size=1000), CodingConfig(block_size=3000)):
        seen = []
        out = io.BytesIO()
        stats = compress_stream(io.BytesIO(data), out, config=cfg, progress=seen.append)
        assert sum(seen) == len(data)
        if not cfg.lstm:
            assert set(stats.methods) <= {"lzma", "stored"}
        seen = []
        back = io.BytesIO()
        decompress_stream(io.BytesIO(out.getvalue()), back, progress=seen.append)
        assert back.getvalue() == data and sum(seen) == len(data)


def test_fuzz_harness_smoke():
    """A short run of the fuzz harness itself: it must find no crash, hang or wrong output."""
    from tests.fuzz.fuzz_archive import mutation_fuzz

    r = mutation_fuzz(cases=120, seed=99, timeout=30.0, save=None, progress_every=0)
    assert r["cases"] == 120 and r["clean_errors"] > 60
    assert r["crashes"] == r["hangs"] == r["wrong_outputs"] == 0, r
