"""Write the golden archives that are missing (committed ones never change: they are the
promise that old archives keep decoding).

    python tests/golden/make_golden.py
"""
from pathlib import Path

import lstmzip
from lstmzip.container import Method

HERE = Path(__file__).resolve().parent
ORIGINAL = HERE / "sample.txt"
# archive name -> how today's encoder makes it with today's default model; several streams,
# LSTM forced
ARCHIVES = {
    "sample.txt.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM),
    "sample.adaptive.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_ADAPTIVE),
    "sample.adaptive2.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_ADAPTIVE2),
    "sample.records.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_RECORDS),
    "sample.ramp.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_RAMP),
    "sample.fields.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_FIELDS),
    "sample.columns.lstmz": lstmzip.CodingConfig(min_stream_len=700, columns_stream_len=0, try_lzma=False,
                                                 lstm_method=Method.LSTM_COLUMNS),
    "sample.mixer.lstmz": lstmzip.CodingConfig(min_stream_len=700, columns_stream_len=0, try_lzma=False,
                                               lstm_method=Method.LSTM_MIXER),
    "sample.mixer16.lstmz": lstmzip.CodingConfig(min_stream_len=700, columns_stream_len=0, try_lzma=False,
                                                 lstm_method=Method.LSTM_MIXER16),
    **{name: lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=method)
       for name, method in (("sample.rans.lstmz", Method.LSTM_RANS), ("sample.mix.lstmz", Method.LSTM_MIX),
                            ("sample.mix2.lstmz", Method.LSTM_MIX2), ("sample.mix3.lstmz", Method.LSTM_MIX3),
                            ("sample.mix4.lstmz", Method.LSTM_MIX4))},
    # the ramped methods' 6 streams (530 steps), as written before 0.18.1 counted the ramp's
    # steps in the small-block rule (pipeline.streams_within: 7 streams at 512 steps)
    **{name: lstmzip.CodingConfig(min_stream_len=700, device_small_block_steps=540, try_lzma=False, lstm_method=method)
       for name, method in (("sample.mix5.lstmz", Method.LSTM_MIX5), ("sample.mix6.lstmz", Method.LSTM_MIX6))},
    "sample.mix7.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX7),
    "sample.mix8.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX8),
    "sample.mix9.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX9),
    "sample.mix10.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX10),
    "sample.mix11.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX11),
    "sample.mix12.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX12),
    "sample.mix13.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX13),
    "sample.mix14.lstmz": lstmzip.CodingConfig(min_stream_len=700, try_lzma=False, lstm_method=Method.LSTM_MIX14),
}
# Decoded, no longer written: their models were replaced and ship under another name, found by
# sha256. default-0.16/: one archive per method (the names above) written with the default model
# of lstmzip 0.1 to 0.16 (`default-0.16`), sample.rans.cuda.lstmz made on an H100 by
# benchmarks/device_check.py (identical to the CPU's); default-0.17/: the same with 0.17's
# (`default-0.17`), default-0.18/ with the model of 0.18 to 0.20 (`default-0.18`), default-0.21/
# with 0.21's (`default-0.21`; and sample.mixer16.lstmz, made with it in 0.22 before the model
# was replaced); sample.logs03.lstmz: what lstmzip 0.3 wrote with its `logs` model (method 5,
# min_stream_len=700), kept as `logs-0.3`. format-1/: the archives above as 0.22 wrote them, in
# format version 1 (the same blocks, the container of docs/FORMAT.md 1.2).
RETIRED_DEFAULTS = ("default-0.16", "default-0.17", "default-0.18", "default-0.21")
FORMAT_1 = "format-1"
DECODE_ONLY = ["sample.logs03.lstmz"] + sorted(f"{d}/{p.name}" for d in RETIRED_DEFAULTS + (FORMAT_1,)
                                               for p in (HERE / d).glob("*.lstmz"))

if __name__ == "__main__":
    data = ORIGINAL.read_bytes()
    for name, config in ARCHIVES.items():
        path = HERE / name
        if path.exists():
            print(f"{name}: exists, kept")
            continue
        path.write_bytes(lstmzip.compress(data, config=config))
        print(f"{name}: {len(data)} -> {path.stat().st_size} bytes")
