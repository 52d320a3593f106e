"""Shipped models: name -> file in models/weights, its sha256 and what it is for.

A shipped file whose sha256 differs from this table is refused (a damaged install would
otherwise produce archives nobody else can decode). Shipped files never change: archives
name their model by sha256, so a retrained model ships under a new file (and the old file
stays, so old archives keep decoding).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lstmzip.models.errors import ModelError

if TYPE_CHECKING:  # (loading a model needs torch; the table, read by `lstmzip -l`, does not)
    from lstmzip.models import model_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# the block methods a model names (ShippedModel's fields, and the keys lstmzip train writes into a
# model file's metadata): every block's, small blocks', repetitive blocks'
METHOD_KEYS = ("block_method", "small_block_method", "repetitive_block_method")
DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class ShippedModel:
    name: str
    filename: str
    sha256: str
    description: str
    # actual archive bpc: benchmarks/eval_bench.py (default), benchmarks/domain_heldout.py (python, logs)
    bpc: tuple[tuple[str, float], ...] = ()
    # the archive block method its LSTM blocks are coded with (lstmzip.container.Method): 23 for
    # English (context mixing; 4 before 0.17, 16 before 0.24, 18 before 0.26, 20 in 0.26), 24 for
    # code (6 before 0.21, 16 before 0.25, 19 in 0.25, 21 in 0.26), 17 for logs (line and field contexts,
    # which cost English a few %; ramped streams; 7 adds the line above's fields and
    # warm-started streams, 8 a column APM and longer streams, 9 the bias mixer, 17 its tables
    # in half the memory)
    block_method: int = 4
    # ... and for blocks of at most CodingConfig.small_block_len bytes (None: block_method)
    small_block_method: int | None = None
    # ... and for larger blocks that zlib level 1 codes in under CodingConfig.repetitive_bpc bits
    # a byte (None: block_method)
    repetitive_block_method: int | None = None
    # kept so that archives made with it still decode (found by sha256), but no longer listed
    # or picked by --model auto
    retired: bool = False

    @property
    def methods(self) -> dict[str, int | None]:
        """Its block methods by METHOD_KEYS (None where it has none)."""
        return {key: getattr(self, key) for key in METHOD_KEYS}


SHIPPED: dict[str, ShippedModel] = {
    m.name: m
    for m in [
        ShippedModel(
            "default", "default.lstmzm", "1b527496a175678c18f46ab8b01a58d01da5c8a38e2247b0df1ac40356a7cb0a",
            "English and general text: 2 x 256 LSTM mixed with context models (block method 23)",
            (("alice29", 1.640), ("book1", 1.890), ("bible", 1.337)),
            # from 0.24 18 (16 with the context bias's orders 2, 4, 7 only), and 16 (as before)
            # for repetitive blocks. Chosen on training-pool text, 16 -> 18 (bpc): three validation
            # books of its training split (768 / 150 / 289 KB; zlib level 1 3.56-3.67 bits a
            # byte) 1.6324 -> 1.6195, 1.7099 -> 1.6902, 1.7699 -> 1.7556, a 60 KB slice 1.7284
            # -> 1.7071; 300 KB of Python (1.75) 0.8831 -> 0.8850 and of logs (0.40) 0.1219 ->
            # 0.1227, 6 Python files of 31-90 KB (2.3-2.7) -0.1 to +0.8% each, 4 logs of 44-71
            # KB (1.0-1.7) +0.3 to +1.0% each. From 0.25 19 for repetitive blocks (16 with
            # counters kept per stream, MIX_V6): see stages.mix.MIX_V6's comment. From 0.26 20 and
            # 21 (18 and 19 with tables of the last words), and 22 for other blocks of up to 16
            # KiB: see stages.mix.MIX_V7's and MIX_V9's comments. From 0.27 23, 24 and 25 (the same
            # with checked buckets and 16-bit context bias entries, 24 with the last three words
            # too: stages.mix.MIX_V10's comment)
            block_method=23, repetitive_block_method=24, small_block_method=25,
        ),
        ShippedModel(
            "python", "python.lstmzm", "cba6925be19a8647ddc786f1d0c87b862008632b5a55d983a3a2e61521100810",
            "Python source: default-0.16 fine-tuned for 30 min on the CPU with lstmzip train",
            (("12 held-out .py files", 0.884),),
            # method 7 on its held-out files: 0.951 (0.956 before MATCH_V5, domain_python_v05_method7.md).
            # Method 16 from 16 KiB, method 6 below: chosen on training-pool Python (the model's own
            # training files, so the stages' share; lstmzip 0.21, 1 thread, bpc method 6 -> 16):
            # 1 MB 0.9056 -> 0.8729 (1.2x / 1.3x the time); 6 files of 31-90 KB 1.2557 -> 1.2248
            # (-0.4 to -4.2% each, 1.9x); 12 files of 14-28 KB: the 8 of 16.4 KB and more -0.3 to
            # -2.5% each, the 4 of 14.6-16.0 KB +3.6 to +6.6% (method 16 codes a block of up to
            # 16 KiB in 512 steps, method 6 in 1,024); 16 files of 1.6-14 KB 1.2667 -> 1.3216.
            # From 0.25 method 19 instead of 16 (training-pool Python, see stages.mix.MIX_V6); from
            # 0.26 21 (19 with tables of the last words, stages.mix.MIX_V8): its two held-out files
            # above 16 KiB 4,811 -> 4,755 and 3,835 -> 3,831 bytes, 300 KB of the pool -0.7%. From
            # 0.27 24 (checked buckets, the last three words, 16-bit bias entries: stages.mix.MIX_V11):
            # 300 KB of the pool 30,213 -> 30,085 bytes.
            block_method=24, small_block_method=6,
        ),
        ShippedModel(
            "logs", "logs.lstmzm", "a3493587ee5128eaeaf50e7e47d69a21303ca7da542d2082fc8c190b888ea59d",
            "Logs: default-0.16 fine-tuned for 80 min on the CPU with lstmzip train; codes with block method 17",
            (("8 held-out log files", 0.2228),),
            # 17 from 0.22 (9 before): archives of the same size on training-pool logs (4 MB: 146,588
            # bytes either way) and on 1 MB of English, at peak PSS 1,000 -> 685 MiB for the 4 MB
            block_method=17,
        ),
        ShippedModel(
            "default-0.21", "default-0.21.lstmzm", "a1bbfd049198bbab614b5d562b04aac3a4d4a9ed0accad00b0c496163e69ec4d",
            "The default model of lstmzip 0.21 (420 M characters of training), for its archives",
            (("alice29", 1.667), ("book1", 1.911), ("bible", 1.367)),
            block_method=16, retired=True,
        ),
        ShippedModel(
            "default-0.18", "default-0.18.lstmzm", "141628a08de9bf39beba4951d875e7177cfe267c23f9dc1341d537f11497b7a3",
            "The default model of lstmzip 0.18 to 0.20 (256 M characters of training), for its archives",
            (("alice29", 1.688), ("book1", 1.928), ("bible", 1.371)),
            block_method=16, retired=True,
        ),
        ShippedModel(
            "default-0.17", "default-0.17.lstmzm", "e80b90299c5d0b57ddfb296b4ab3859b3e29b943295217f18c22e56edbad6f6e",
            "The default model of lstmzip 0.17 (176 M characters of training), for its archives",
            (("alice29", 1.695), ("book1", 1.939), ("bible", 1.378)),
            block_method=16, retired=True,
        ),
        ShippedModel(
            "default-0.16", "default-0.16.lstmzm", "9067a4fbb5d015e12597c21d559a827cd7ba662d7f101535816f46a18932d2ab",
            "The default model of lstmzip 0.1 to 0.16 (98 M characters of training), for its archives",
            (("alice29, method 4", 1.777), ("book1", 2.032), ("bible", 1.446)),
            retired=True,
        ),
        ShippedModel(
            "logs-0.3", "logs-0.3.lstmzm", "4497d8fb75703362c55f568c27e0a3da9f529dab80fd80de1540066af088af54",
            "The logs model of lstmzip 0.3 (25 min of fine-tuning), for its archives",
            (("8 held-out log files, method 5", 0.267),),
            block_method=5, retired=True,
        ),
    ]
}


# how a model that names no block method codes (one trained from scratch, or a file of an
# older lstmzip): as the default model does
FALLBACK_METHOD = SHIPPED[DEFAULT_MODEL].block_method
SHIPPED_BY_SHA = {m.sha256: m for m in SHIPPED.values()}  # the entry of a model file's sha256


def names() -> list[str]:
    """The models to list and to choose from (retired ones only decode their archives)."""
    return [name for name, m in SHIPPED.items() if not m.retired]


@functools.lru_cache(maxsize=None)
def load(name: str) -> model_file.LoadedModel:
    """A shipped model by name, or a model file by path."""
    from lstmzip.models import model_file

    if name in SHIPPED:
        entry = SHIPPED[name]
        loaded = model_file.read(WEIGHTS_DIR / entry.filename, name)
        if entry.sha256 and loaded.sha256 != entry.sha256:
            raise ModelError(f"shipped model {name} is damaged (sha256 {loaded.sha256[:16]}..., "
                             f"expected {entry.sha256[:16]}...); reinstall lstmzip")
        return loaded
    path = Path(name)
    if path.suffix in (".lstmzm", ".safetensors") or "/" in name:
        if not path.is_file():
            raise ModelError(f"model file {name} not found")
        return model_file.read(path)
    raise ModelError(f"unknown model '{name}' (shipped models: {', '.join(SHIPPED)})")


def name_for_id(model_id: str) -> str | None:
    """The shipped model whose sha256 (hex) starts with model_id (an archive's), if any."""
    return next((m.name for m in SHIPPED.values() if m.sha256.startswith(model_id)), None)


def find_by_id(model_id: str) -> model_file.LoadedModel | None:
    """The shipped model whose sha256 starts with model_id, loaded (load checks its sha256)."""
    for name, entry in SHIPPED.items():
        if entry.sha256.startswith(model_id):
            try:
                return load(name)
            except ModelError:
                continue
    return None
