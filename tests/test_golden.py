"""The committed golden archive must keep decoding (DESIGN.md §2), and today's encoder must
still produce it byte for byte (a change there is a format change: bump the version)."""
from pathlib import Path

import lstmzip

GOLDEN = Path(__file__).resolve().parent / "golden"


def test_golden_archive_decodes():
    assert lstmzip.decompress((GOLDEN / "sample.txt.lstmz").read_bytes()) == (GOLDEN / "sample.txt").read_bytes()


def test_encoder_reproduces_golden_archive():
    from tests.golden.make_golden import CONFIG

    data = (GOLDEN / "sample.txt").read_bytes()
    assert lstmzip.compress(data, config=CONFIG) == (GOLDEN / "sample.txt.lstmz").read_bytes()
