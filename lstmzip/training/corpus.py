"""Training corpora: the shared xz pools split into documents, validation split, augmentation."""
from __future__ import annotations

import csv
import lzma
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Document:
    name: str
    data: bytes


def read_pool(xz_path: Path) -> list[Document]:
    """Split a pool into its documents using the SOURCES.tsv beside it (byte offsets)."""
    raw = lzma.open(xz_path, "rb").read()
    sources = xz_path.with_name(xz_path.name.split(".")[0] + ".SOURCES.tsv")
    if not sources.exists():
        return [Document(xz_path.name, raw)]
    docs = []
    with open(sources, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            off, n = int(row["pool_offset"]), int(row["bytes"])
            docs.append(Document(row["path"], raw[off : off + n]))
    return docs


def split_documents(docs: list[Document], val_fraction: float, seed: int):
    """Whole documents go to validation, chosen by a seeded shuffle."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(docs) * val_fraction)) if val_fraction > 0 else 0
    val = [docs[i] for i in sorted(order[:n_val])]
    train = [docs[i] for i in sorted(order[n_val:])]
    return train, val


def to_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def spaces_to_tabs(data: bytes) -> bytes:
    """Replace each leading group of four spaces by a tab (code written with tabs)."""
    out = []
    for line in data.split(b"\n"):
        stripped = line.lstrip(b" ")
        n = len(line) - len(stripped)
        out.append(b"\t" * (n // 4) + b" " * (n % 4) + stripped)
    return b"\n".join(out)


@dataclass
class AugmentConfig:
    """Teach the model what real files hold that the clean LF-only pools do not."""

    crlf_fraction: float = 0.04  # documents written with CRLF line endings
    tabs_fraction: float = 0.5  # code documents re-indented with tabs


def augment(docs: list[Document], cfg: AugmentConfig, seed: int, code: bool = False) -> list[Document]:
    rng = random.Random(seed)
    out = []
    for d in docs:
        data = d.data
        if code and rng.random() < cfg.tabs_fraction:
            data = spaces_to_tabs(data)
        if rng.random() < cfg.crlf_fraction:
            data = to_crlf(data)
        out.append(Document(d.name, data))
    return out


def take_bytes(docs: list[Document], budget: int, seed: int) -> list[Document]:
    """A seeded random subset of documents holding about `budget` bytes."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    out, total = [], 0
    for i in order:
        if total >= budget:
            break
        out.append(docs[i])
        total += len(docs[i].data)
    return out


def concatenate(docs: list[Document], seed: int) -> np.ndarray:
    """Shuffle documents and join them with a blank line into one uint8 array."""
    docs = list(docs)
    random.Random(seed).shuffle(docs)
    return np.frombuffer(b"\n\n".join(d.data for d in docs), dtype=np.uint8).copy()
