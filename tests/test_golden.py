"""The committed golden archives must keep decoding (docs/DESIGN.md §2), and today's encoder must
still produce them byte for byte (a change there is a format change: bump the version)."""
import io
from pathlib import Path

import pytest

import lstmzip
from lstmzip import container
from tests.golden.make_golden import ARCHIVES, DECODE_ONLY, FORMAT_1, RETIRED_DEFAULTS

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("name", list(ARCHIVES) + DECODE_ONLY)
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


def test_archives_of_a_replaced_shipped_model_still_decode():
    """0.3's logs archives name `logs`, whose model 0.4 replaced: the old one is found by its
    sha256 (shipped as `logs-0.3`), and it is neither listed nor chosen by --model auto."""
    from lstmzip.engines import model_for_archive
    from lstmzip.models import registry

    f = io.BytesIO((GOLDEN / "sample.logs03.lstmz").read_bytes())
    header = container.read_header(f)
    assert header.model_name == "logs" and not header.made_with(registry.SHIPPED["logs"].sha256)
    assert model_for_archive(header).sha256 == registry.SHIPPED["logs-0.3"].sha256
    assert "logs-0.3" not in registry.names() and "logs" in registry.names()


@pytest.mark.parametrize("retired", RETIRED_DEFAULTS)
def test_archives_of_an_earlier_default_model_still_decode(retired):
    """Archives of earlier releases name `default`, whose model a later release replaced: the old
    one is found by its sha256 (shipped under another name, retired), and new archives name the
    new one."""
    from lstmzip.engines import model_for_archive
    from lstmzip.models import registry

    old = io.BytesIO((GOLDEN / retired / "sample.adaptive2.lstmz").read_bytes())
    header = container.read_header(old)
    assert header.model_name == "default" and header.model_id == registry.SHIPPED[retired].sha256
    assert model_for_archive(header).sha256 == registry.SHIPPED[retired].sha256
    new = container.read_header(io.BytesIO((GOLDEN / "sample.adaptive2.lstmz").read_bytes()))
    assert new.model_id == registry.SHIPPED["default"].sha256[:16] and new.version == container.VERSION
    assert model_for_archive(new).sha256 == registry.SHIPPED["default"].sha256
    assert retired not in registry.names() and registry.SHIPPED[retired].retired


def _parts(archive: bytes) -> tuple:
    """An archive's records and payloads, whatever its format version."""
    f = io.BytesIO(archive)
    header = container.read_header(f)
    parts = []
    while not isinstance(rec := container.read_record(f, header.version), container.Trailer):
        parts.append((rec, f.read(rec.coded_len)))
    return header.version, header.model_id[:16], parts, rec, f.read()


@pytest.mark.parametrize("name", sorted(p.name for p in (GOLDEN / FORMAT_1).glob("*.lstmz")))
def test_format_1_and_2_archives_hold_the_same_blocks(name):
    """0.22's archive of each golden (format 1, still decoded) and today's (format 2): the same
    model, block fields, payloads and trailer; only the container's bytes differ."""
    v1, v2 = (_parts((GOLDEN / d / name).read_bytes()) for d in (FORMAT_1, "."))
    assert (v1[0], v2[0]) == (1, 2) and v1[1:] == v2[1:]
    # the containers of a 2,805-byte input: 99 bytes (51 header, 27 block, 21 trailer) -> 48 (18, 18, 12)
    assert len((GOLDEN / FORMAT_1 / name).read_bytes()) - len((GOLDEN / name).read_bytes()) == 99 - 48
