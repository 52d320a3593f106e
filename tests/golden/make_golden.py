"""Regenerate the golden archive (only when the format or the shipped model changes on purpose).

    python tests/golden/make_golden.py
"""
from pathlib import Path

import lstmzip

HERE = Path(__file__).resolve().parent
ORIGINAL = HERE / "sample.txt"
CONFIG = lstmzip.CodingConfig(min_stream_len=700, try_lzma=False)  # several streams, LSTM forced


if __name__ == "__main__":
    data = ORIGINAL.read_bytes()
    (HERE / "sample.txt.lstmz").write_bytes(lstmzip.compress(data, config=CONFIG))
    print(f"{len(data)} -> {(HERE / 'sample.txt.lstmz').stat().st_size} bytes")
