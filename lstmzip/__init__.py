"""lstmzip: lossless text compression with an integer-exact LSTM and a range coder."""
from lstmzip.api import (  # noqa: F401
    ArchiveError,
    CodingConfig,
    CompressStats,
    LstmzipError,
    compress,
    compress_stream,
    decompress,
    decompress_stream,
    open,
)

__version__ = "0.1.0"
