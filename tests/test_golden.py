"""The committed golden archives must keep decoding (docs/DESIGN.md §2), and today's encoder must
still produce them byte for byte (a change there is a format change: bump the version)."""
import io
from pathlib import Path

import pytest

import lstmzip
from lstmzip import container
from tests.golden.make_golden import ARCHIVES, DECODE_ONLY, RETIRED_DEFAULTS

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
    assert header.model_name == "logs" and header.model_sha256 != registry.SHIPPED["logs"].sha256
    assert model_for_archive(header.model_name, header.model_sha256).sha256 == registry.SHIPPED["logs-0.3"].sha256
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
    assert header.model_name == "default" and header.model_sha256 == registry.SHIPPED[retired].sha256
    assert model_for_archive(header.model_name, header.model_sha256).sha256 == registry.SHIPPED[retired].sha256
    new = container.read_header(io.BytesIO((GOLDEN / "sample.adaptive2.lstmz").read_bytes()))
    assert new.model_name == "default" and new.model_sha256 == registry.SHIPPED["default"].sha256
    assert retired not in registry.names() and registry.SHIPPED[retired].retired
