"""Benchmark output: a rich table, markdown and a PNG (bpc per file; speed vs bpc with the
Pareto front)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lstmzip.bench import Report, Result


def _codecs(report: Report) -> list[str]:
    return [c["codec"] for c in report.meta["codecs"]]


def _by_file(report: Report) -> dict[str, dict[str, Result]]:
    table: dict[str, dict[str, Result]] = defaultdict(dict)
    for r in report.results:
        table[r.file][r.codec] = r
    return table


def totals(report: Report) -> dict[str, dict[str, float]]:
    """Per codec over all files: size-weighted bpc and KB/s (total bytes / total seconds)."""
    out = {}
    for codec in _codecs(report):
        rs = [r for r in report.results if r.codec == codec]
        n = sum(r.bytes for r in rs)
        if not n:
            continue
        c_s = sum(r.bytes / 1e3 / r.compress_kbps for r in rs if r.compress_kbps)
        d_s = sum(r.bytes / 1e3 / r.decompress_kbps for r in rs if r.decompress_kbps)
        out[codec] = {"bytes": n, "bpc": 8 * sum(r.compressed_bytes for r in rs) / n,
                      "compress_kbps": n / 1e3 / c_s if c_s else 0.0, "decompress_kbps": n / 1e3 / d_s if d_s else 0.0,
                      "peak_rss_mib": max(r.peak_rss_mib for r in rs),
                      "peak_pss_mib": max((r.peak_pss_mib for r in rs if r.peak_pss_mib is not None), default=None)}
    return out


def rich_table(report: Report):
    from rich.table import Table

    t = Table(title=f"lstmzip bench — {report.meta['machine']}")
    for col in ["file", "codec", "bytes", "compressed", "bpc", "comp KB/s", "decomp KB/s", "RSS MiB", "PSS MiB"]:
        t.add_column(col, justify="left" if col in ("file", "codec") else "right")
    best = {f: min(rs.values(), key=lambda r: r.bpc).codec for f, rs in _by_file(report).items()}
    for r in report.results:
        bpc = f"[bold]{r.bpc:.3f}[/bold]" if best[r.file] == r.codec else f"{r.bpc:.3f}"
        t.add_row(r.file, r.codec, f"{r.bytes:,}", f"{r.compressed_bytes:,}", bpc, f"{r.compress_kbps:,.1f}",
                  f"{r.decompress_kbps:,.1f}", f"{r.peak_rss_mib:,.0f}", _mib(r.peak_pss_mib))
    return t


def _mib(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def markdown(report: Report) -> str:
    codecs = _codecs(report)
    labels = {c["codec"]: c["label"] for c in report.meta["codecs"]}
    lstm = [c for c in codecs if c.startswith("lstmzip:")]
    ref = "bz2" if "bz2" in codecs else None
    m = report.meta
    lines = [f"Measured {m['date']} on {m['machine']}; lstmzip with {m['threads']} torch thread(s); "
             f"versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}.",
             "Every result was round-trip verified in the same run. bpc = 8 × compressed bytes / input bytes "
             "(whole archive with every header byte; the model file is not counted, see the last column). "
             "Peak RSS: the worker's high-water mark plus its largest child's (pages they share counted in "
             "each: an upper bound); peak PSS: their summed proportional set size, sampled every 0.2 s "
             "(shared pages counted once: what the machine spends).", ""]
    lines += [f"- {n}" for n in report.notes]
    head = ["file", "bytes"] + [labels[c] for c in codecs]
    if ref and lstm:
        head.append(f"{lstm[0]} vs bzip2")
    lines += ["## bpc", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f, rs in _by_file(report).items():
        best = min(r.bpc for r in rs.values())
        cells = [f, f"{next(iter(rs.values())).bytes:,}"]
        for c in codecs:
            v = rs[c].bpc if c in rs else None
            cells.append("" if v is None else (f"**{v:.3f}**" if v == best else f"{v:.3f}"))
        if ref and lstm and ref in rs and lstm[0] in rs:
            cells.append(f"{100 * (rs[lstm[0]].bpc / rs[ref].bpc - 1):+.1f}%")
        lines.append("| " + " | ".join(cells) + " |")
    tot = totals(report)
    cells = ["**all (size-weighted)**", f"{next(iter(tot.values()))['bytes']:,}" if tot else ""]
    cells += [f"{tot[c]['bpc']:.3f}" if c in tot else "" for c in codecs]
    if ref and lstm and ref in tot and lstm[0] in tot:
        cells.append(f"{100 * (tot[lstm[0]]['bpc'] / tot[ref]['bpc'] - 1):+.1f}%")
    lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Speed and memory (all files)", "",
              "| codec | setting | bpc | compress KB/s | decompress KB/s | peak RSS MiB | peak PSS MiB |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for c in codecs:
        if c in tot:
            t = tot[c]
            lines.append(f"| {c} | `{labels[c]}` | {t['bpc']:.3f} | {t['compress_kbps']:,.1f} | "
                         f"{t['decompress_kbps']:,.1f} | {t['peak_rss_mib']:,.0f} | {_mib(t['peak_pss_mib'])} |")
    lines += ["", "## Every run", "",
              "| file | codec | bytes | compressed | bpc | comp KB/s | decomp KB/s | RSS MiB | PSS MiB | bpc with model |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report.results:
        wm = f"{r.bpc_with_model:.3f}" if r.bpc_with_model is not None else ""
        lines.append(f"| {r.file} | {r.codec} | {r.bytes:,} | {r.compressed_bytes:,} | {r.bpc:.3f} | "
                     f"{r.compress_kbps:,.1f} | {r.decompress_kbps:,.1f} | {r.peak_rss_mib:,.0f} | "
                     f"{_mib(r.peak_pss_mib)} | {wm} |")
    return "\n".join(lines) + "\n"


def pareto(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points (speed, bpc, name) not beaten on both: faster and smaller. Sorted by speed."""
    front = []
    for p in sorted(points, key=lambda p: (-p[0], p[1])):
        if not front or p[1] < front[-1][1]:
            front.append(p)
    return sorted(front)


def plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    codecs = _codecs(report)
    by_file = _by_file(report)
    files = list(by_file)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(10, 0.55 * len(files) + 6), 5),
                                   gridspec_kw={"width_ratios": [max(2, len(files) / 4), 1.2]})
    width = 0.8 / max(1, len(codecs))
    x = np.arange(len(files))
    for i, c in enumerate(codecs):
        ax1.bar(x + i * width, [by_file[f][c].bpc if c in by_file[f] else 0 for f in files], width, label=c)
    ax1.set_xticks(x + width * (len(codecs) - 1) / 2, files, rotation=60, ha="right", fontsize=8)
    ax1.set_ylabel("bits per character (lower is better)")
    ax1.set_title("bpc per file")
    ax1.legend(fontsize=8)
    tot = totals(report)
    pts = [(t["compress_kbps"], t["bpc"], c) for c, t in tot.items()]
    for s, b, c in pts:
        ax2.scatter(s, b)
        ax2.annotate(c, (s, b), fontsize=8, xytext=(4, 4), textcoords="offset points")
    front = pareto(pts)
    ax2.plot([p[0] for p in front], [p[1] for p in front], "k--", lw=1, label="Pareto front")
    ax2.set_xscale("log")
    ax2.set_xlabel("compress KB/s (log)")
    ax2.set_ylabel("size-weighted bpc")
    ax2.set_title("speed vs bpc, all files")
    ax2.legend(fontsize=8)
    fig.suptitle(f"{report.meta['machine']}, {report.meta['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
