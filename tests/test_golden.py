"""The committed golden archives must keep decoding (DESIGN.md §2), and today's encoder must
still produce them byte for byte (a change there is a format change: bump the version)."""
from pathlib import Path

import pytest

import lstmzip
from lstmzip import container
from tests.golden.make_golden import ARCHIVES

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_golden_archive_decodes(name):
    assert lstmzip.decompress((GOLDEN / name).read_bytes()) == (GOLDEN / "sample.txt").read_bytes()


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_encoder_reproduces_golden_archive(name):
    data = (GOLDEN / "sample.txt").read_bytes()
    assert lstmzip.compress(data, config=ARCHIVES[name]) == (GOLDEN / name).read_bytes()


def test_golden_archives_cover_every_lstm_method():
    import io

    methods = set()
    for name in ARCHIVES:
        f = io.BytesIO((GOLDEN / name).read_bytes())
        container.read_header(f)
        methods.add(container.read_record(f).method)
    assert methods == set(container.LSTM_METHODS)
