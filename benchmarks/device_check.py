"""The GPU check of the device pipeline (lstmzip.stages): one command, a few minutes on one
H100/H200, no network; prints a report and writes it as JSON, with CUDA-made golden
archives, to --out.

    python benchmarks/device_check.py --inputs DIR --corpus english.txt.xz --out OUT [--budget 420]

DIR holds what the CPU made beforehand (`--prepare DIR` on a CPU machine, ~30 s on 2 cores;
each sample in streams of --stream-len bytes, so that its check is short and batched): for each
shipped model a text sample NAME.txt and its archive NAME.lstmz made on the CPU with the model's own
method, rans.txt / rans.lstmz with block method 10, mix.txt / mix.lstmz with method 11,
mix2.txt / mix2.lstmz with method 12, mix3.txt / mix3.lstmz with method 13, mix4.txt /
mix4.lstmz with method 14, mix5.txt / mix5.lstmz with method 15, mix6.txt / mix6.lstmz
with method 16, mix7.txt / mix7.lstmz with method 18, mix8.txt / mix8.lstmz with method 19, and
mix9 to mix11 with methods 20 to 22 (the default model's in 0.26), mix12 to mix14 with
methods 23 to 25 (the default model's from 0.27).
The check:
1. exactness: every sample compressed on CUDA must give the CPU's archive byte for byte, and
   every CPU archive must decode on CUDA;
2. throughput against rows in flight: K blocks of 512 streams coded together, 256 steps
   (at 32 blocks also without CUDA graphs), with method 10 (--counts) and with --mix-method
   (default 23, the default model's; --mix-counts);
3. the big run: --corpus (>= 100 MB of text) compressed and decompressed on CUDA with the
   default model and method 10, once for each --big-streams (the most streams a block),
   verified, MB/s both ways, peak GPU memory; the sha256 of each block's payload so that a CPU
   can check blocks of the same archive later;
4. first: tests/golden/sample.txt compressed on CUDA with tests/golden/make_golden.py's
   method 10 to 19 configs (the golden archives CI decodes), compared with the committed
   CPU-made ones, which must also decode on CUDA.
Steps run in the order 4, 1, 2, 3; a big run is skipped (and says so) when step 2 projects it
past --budget seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import lzma
import os
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lstmzip import api  # noqa: E402
from lstmzip.container import Method  # noqa: E402
from lstmzip.engines import engine_for, load_model  # noqa: E402
from lstmzip.pipeline import CodingConfig  # noqa: E402
from lstmzip.stages import coding  # noqa: E402
from lstmzip.stages.coding import decode_blocks, encode_blocks  # noqa: E402
from lstmzip.stages.recipes import RECIPES  # noqa: E402
from lstmzip.models.registry import names  # noqa: E402

RANS = CodingConfig(lstm_method=Method.LSTM_RANS)
MIX = CodingConfig(lstm_method=Method.LSTM_MIX)
MIX2 = CodingConfig(lstm_method=Method.LSTM_MIX2)
MIX3 = CodingConfig(lstm_method=Method.LSTM_MIX3)
MIX4 = CodingConfig(lstm_method=Method.LSTM_MIX4)
MIX5 = CodingConfig(lstm_method=Method.LSTM_MIX5)
MIX6 = CodingConfig(lstm_method=Method.LSTM_MIX6)
MIX7 = CodingConfig(lstm_method=Method.LSTM_MIX7)
MIX8 = CodingConfig(lstm_method=Method.LSTM_MIX8)
MIX9, MIX10, MIX11 = (CodingConfig(lstm_method=m) for m in (Method.LSTM_MIX9, Method.LSTM_MIX10, Method.LSTM_MIX11))
MIX12, MIX13, MIX14 = (CodingConfig(lstm_method=m) for m in (Method.LSTM_MIX12, Method.LSTM_MIX13, Method.LSTM_MIX14))
SAMPLE_CONFIGS = {"rans": RANS, "mix": MIX, "mix2": MIX2, "mix3": MIX3, "mix4": MIX4, "mix5": MIX5,
                  "mix6": MIX6, "mix7": MIX7, "mix8": MIX8, "mix9": MIX9, "mix10": MIX10,
                  "mix11": MIX11, "mix12": MIX12, "mix13": MIX13, "mix14": MIX14}  # samples of the default model with a forced method
SAMPLE_BYTES = 48 << 10
# Samples are cut into streams of this many bytes (--stream-len): 192 rows a step for 256 steps,
# so that each sample's check is short on a GPU yet its steps are batched like a big block's.
SAMPLE_STREAM_LEN = 256


DEVICE = "cuda"


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    if DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if DEVICE == "cuda" else None


REPORT_PATH: Path | None = None


def log(report: dict, key: str, value) -> None:
    """Print and keep a result; the JSON is rewritten each time, so a cut-off run keeps what it had."""
    report[key] = value
    print(f"{key}: {json.dumps(value)}", flush=True)
    if REPORT_PATH is not None:
        REPORT_PATH.write_text(json.dumps(report, indent=1))


def compress(data: bytes, model: str, device: str, cfg: CodingConfig | None = None) -> bytes:
    return api.compress(data, model, cfg, device=device)


def decompress(archive: bytes, device: str) -> bytes:
    return api.decompress(archive, device=device)


def sample_config(cfg: CodingConfig | None, stream_len: int) -> CodingConfig:
    """The sample's coding settings: cfg's (None: the model's own method) in streams of stream_len."""
    cfg = cfg or CodingConfig()
    return dataclasses.replace(cfg, min_stream_len=stream_len, small_block_steps=0, lines_per_stream=0,
                               columns_small_block_steps=0, columns_stream_len=stream_len)


def prepare(folder: Path, corpus: Path, stream_len: int) -> None:
    """On the CPU: a sample per shipped model (the training pool of its kind) and its archive."""
    folder.mkdir(parents=True, exist_ok=True)
    pools = {"default": "english", "python": "python", "logs": "logs"}
    for model in names():
        with lzma.open(corpus.parent / f"{pools.get(model, 'english')}.txt.xz") as f:
            f.seek(1 << 20)  # past the pool's first document
            sample = f.read(SAMPLE_BYTES)
        (folder / f"{model}.txt").write_bytes(sample)
        (folder / f"{model}.lstmz").write_bytes(compress(sample, model, "cpu", sample_config(None, stream_len)))
        if model == "default":
            for name, cfg in SAMPLE_CONFIGS.items():
                (folder / f"{name}.txt").write_bytes(sample)
                (folder / f"{name}.lstmz").write_bytes(compress(sample, model, "cpu", sample_config(cfg, stream_len)))
    (folder / "stream_len").write_text(str(stream_len))
    print("prepared", sorted(p.name for p in folder.iterdir()))


def exactness(report: dict, inputs: Path, samples: list[str] | None) -> None:
    stream_len_file = inputs / "stream_len"
    stream_len = int(stream_len_file.read_text()) if stream_len_file.exists() else None
    rows = []
    for txt in sorted(inputs.glob("*.txt")):
        name = txt.stem
        if samples and name not in samples:
            continue
        model, cfg = ("default", SAMPLE_CONFIGS[name]) if name in SAMPLE_CONFIGS else (name, None)
        if stream_len is not None:  # inputs of an older --prepare: the default stream lengths
            cfg = sample_config(cfg, stream_len)
        cpu_archive = (inputs / f"{name}.lstmz").read_bytes()
        data = txt.read_bytes()
        t = time.perf_counter()
        cuda_archive = compress(data, model, DEVICE, cfg)
        ct = time.perf_counter() - t
        t = time.perf_counter()
        back = decompress(cpu_archive, DEVICE)
        dt = time.perf_counter() - t
        rows.append({"sample": name, "model": model, "bytes": len(data), "archive": len(cpu_archive),
                     "cuda_archive_identical": cuda_archive == cpu_archive, "cpu_archive_decodes_on_cuda": back == data,
                     "compress_s": round(ct, 2), "decompress_s": round(dt, 2)})
        print(rows[-1], flush=True)
    log(report, "exactness", rows)


def throughput(report: dict, text: bytes, counts: list[int], steps: int = 256, streams: int = 512,
               method: Method = Method.LSTM_RANS) -> dict[int, float]:
    engine = engine_for(load_model("default"), DEVICE)
    recipe = RECIPES[method]
    size = streams * steps
    per_step = {}
    rows = []
    encode_blocks(engine, [text[:size]], [streams], recipe)  # warm-up
    runs = [(k, True) for k in counts] + [(k, False) for k in counts if k == 32]
    for k, graphs in runs:
        os.environ["LSTMZIP_CUDA_GRAPHS"] = "1" if graphs else "0"
        counted = dict(coding.graph_counts)
        blocks = [text[i * size:(i + 1) * size] for i in range(k)]
        sync()
        reset_peak()
        t = time.perf_counter()
        coded = encode_blocks(engine, blocks, [streams] * k, recipe)
        sync()
        enc = time.perf_counter() - t
        t = time.perf_counter()
        back = decode_blocks(engine, [c for c, _ in coded], [size] * k, [streams] * k, recipe)
        sync()
        dec = time.perf_counter() - t
        ok = back == blocks
        if graphs:
            per_step[k * streams] = max(enc, dec) / steps
        rows.append({"rows": k * streams, "blocks": k, "cuda_graphs": graphs and DEVICE == "cuda", "compress_MB_s": round(k * size / enc / 1e6, 3),
                     "decompress_MB_s": round(k * size / dec / 1e6, 3), "ms_per_step_enc": round(1e3 * enc / steps, 3),
                     "ms_per_step_dec": round(1e3 * dec / steps, 3), "round_trip": ok,
                     "gpu_peak_GiB": peak_gib(),
                     # captures in the encode and the decode (0.15.0-0.18.1 made none: a bug)
                     "graphs_captured": coding.graph_counts["captured"] - counted["captured"],
                     "graph_captures_failed": coding.graph_counts["failed"] - counted["failed"]})
        print(rows[-1], flush=True)
    os.environ["LSTMZIP_CUDA_GRAPHS"] = "1"
    log(report, "throughput_vs_rows" if method == Method.LSTM_RANS else f"throughput_vs_rows_method_{int(method)}", rows)
    return per_step


def big_run_key(streams: int) -> str:
    """The report's key for a big run (the default streams keep the earlier reports' key)."""
    return "big_run" if streams == RANS.max_streams else f"big_run_{streams}_streams"


def big_run(report: dict, text: bytes, out: Path, streams: int = RANS.max_streams) -> None:
    cfg = RANS.with_streams(streams)
    reset_peak()
    t = time.perf_counter()
    archive = compress(text, "default", DEVICE, cfg)
    enc = time.perf_counter() - t
    peak_enc = peak_gib()
    reset_peak()
    t = time.perf_counter()
    back = decompress(archive, DEVICE)
    dec = time.perf_counter() - t
    # each block's payload, so that a CPU can re-make any block and compare
    from lstmzip import container as ct
    f = io.BytesIO(archive)
    version = ct.read_header(f).version
    digests = []
    while True:
        rec = ct.read_record(f, version)
        if isinstance(rec, ct.Trailer):
            break
        digests.append({"method": rec.method.name, "raw_len": rec.raw_len, "streams": rec.streams,
                        "sha256": hashlib.sha256(f.read(rec.coded_len)).hexdigest()})
    log(report, big_run_key(streams), {
        "max_streams": streams, "input_bytes": len(text), "archive_bytes": len(archive), "bpc": round(8 * len(archive) / len(text), 4),
        "round_trip": back == text, "compress_s": round(enc, 2), "decompress_s": round(dec, 2),
        "compress_MB_s": round(len(text) / enc / 1e6, 3), "decompress_MB_s": round(len(text) / dec / 1e6, 3),
        "gpu_peak_GiB_compress": peak_enc,
        "gpu_peak_GiB_decompress": peak_gib(),
        "archive_sha256": hashlib.sha256(archive).hexdigest(), "blocks": digests})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prepare", type=Path, help="on a CPU: write the samples and CPU archives here")
    ap.add_argument("--inputs", type=Path)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "train" / "english.txt.xz")
    ap.add_argument("--out", type=Path, default=Path("."))
    ap.add_argument("--budget", type=float, default=420.0, help="seconds the whole check may take")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to try the script out")
    ap.add_argument("--samples", nargs="*", help="only these samples of --inputs (default: all)")
    ap.add_argument("--counts", type=int, nargs="*", default=[1, 4, 16, 32, 64])
    ap.add_argument("--mix-counts", type=int, nargs="*", default=[1, 16, 64], help="the same for --mix-method")
    ap.add_argument("--mix-method", type=int, default=int(Method.LSTM_MIX12))
    ap.add_argument("--big-streams", type=int, nargs="*", default=[RANS.max_streams],
                    help="the big run once per value, with at most this many streams a block")
    ap.add_argument("--stream-len", type=int, default=SAMPLE_STREAM_LEN, help="--prepare: the samples' stream length")
    args = ap.parse_args()
    if args.prepare:
        prepare(args.prepare, args.corpus, args.stream_len)
        return
    began = time.perf_counter()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        sys.exit("device_check: no CUDA device")
    args.out.mkdir(parents=True, exist_ok=True)
    global REPORT_PATH
    REPORT_PATH = args.out / "device_check.json"
    report: dict = {}
    log(report, "device", {"gpu": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu", "torch": torch.__version__,
                           "cuda": torch.version.cuda, "lstmzip": api.__name__ and _version()})
    text = lzma.open(args.corpus).read()
    log(report, "corpus", {"file": args.corpus.name, "bytes": len(text)})
    from tests.golden.make_golden import ARCHIVES, ORIGINAL
    golden = {}
    # (OUT/NAME: CUDA-made golden archives; the one committed, tests/golden/default-0.16/
    # sample.rans.cuda.lstmz, is 0.16's model's)
    for name in ("sample.rans.lstmz", "sample.mix.lstmz", "sample.mix2.lstmz",
                 "sample.mix3.lstmz", "sample.mix4.lstmz", "sample.mix5.lstmz", "sample.mix6.lstmz",
                 "sample.mix7.lstmz", "sample.mix8.lstmz", "sample.mix9.lstmz", "sample.mix10.lstmz",
                 "sample.mix11.lstmz", "sample.mix12.lstmz", "sample.mix13.lstmz", "sample.mix14.lstmz"):
        made = compress(ORIGINAL.read_bytes(), "default", DEVICE, ARCHIVES[name])
        (args.out / name).write_bytes(made)
        cpu = ROOT / "tests" / "golden" / name
        golden[name] = {"bytes": len(made), "identical_to_cpu": cpu.read_bytes() == made if cpu.exists() else None,
                        "cpu_archive_decodes": decompress(cpu.read_bytes(), DEVICE) == ORIGINAL.read_bytes()
                        if cpu.exists() else None}
    log(report, "golden", golden)
    if args.inputs:
        exactness(report, args.inputs, args.samples)
    per_step = throughput(report, text, args.counts)
    if args.mix_counts:
        throughput(report, text, args.mix_counts, method=Method(args.mix_method))
    blocks = -(-len(text) // RANS.block_size)
    for streams in args.big_streams:
        steps = RANS.block_size // streams
        rows = blocks * streams
        near = min(per_step, key=lambda r: abs(r - rows))
        projected = 2 * steps * per_step[near] * max(1.0, rows / near) + 30
        left = args.budget - (time.perf_counter() - began)
        key = big_run_key(streams)
        log(report, f"{key}_projection", {"projected_s": round(projected, 1), "left_s": round(left, 1)})
        if projected < left:
            big_run(report, text, args.out, streams)
        else:
            log(report, key, "skipped: projected past the budget")
    log(report, "total_s", round(time.perf_counter() - began, 1))


def _version() -> str:
    import lstmzip
    return lstmzip.__version__


if __name__ == "__main__":
    main()
