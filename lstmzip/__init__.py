"""lstmzip: lossless text compression with an integer-exact LSTM and a range coder.

The API names load lazily (PEP 562), so `import lstmzip.peers` and the benchmark's peer
workers do not pay for (or measure) torch.
"""
from pathlib import Path as _Path

__version__ = "0.27.0"

# Installed, codec/ and models/ are lstmzip/codec and lstmzip/models (pyproject's package-dir;
# an editable install maps them too). A source tree used without installing it (PYTHONPATH=.,
# as on the GPU machine) keeps them beside this folder: look there as well.
_here = _Path(__file__).resolve().parent
if not (_here / "models").is_dir() and (_here.parent / "models" / "int_engine.py").is_file():
    __path__.append(str(_here.parent))

_API = {"ArchiveError", "CodingConfig", "CompressStats", "LstmzipError", "compress", "compress_stream",
        "decompress", "decompress_stream", "open"}
__all__ = sorted(_API | {"train", "explain", "explain_html", "sample"})


def __getattr__(name: str):
    if name == "train":
        from lstmzip.training.run import train_api

        return train_api
    if name == "explain":
        from lstmzip.explain_bits import explain_bytes

        return explain_bytes
    if name == "explain_html":
        from lstmzip.explain_render import explain_html

        return explain_html
    if name == "sample":
        from lstmzip.sampler import sample

        return sample
    if name in _API:
        from lstmzip import api

        return getattr(api, name)
    raise AttributeError(f"module 'lstmzip' has no attribute {name!r}")
