"""Render an Explanation: a self-contained HTML page, or colours in the terminal (rich).

The page has one <span class="c"> per character with its cost in bits in `data-b` (a UTF-8
character's bytes are added up; bytes that are not UTF-8 are shown as \\xNN), a legend, the
total and each line's bpc, and on hover the model's top predictions for that position. The
predictions live in one JSON array read on hover, so a 64 KB page stays light.
"""
from __future__ import annotations

import html
import json

from lstmzip.explain_bits import Explanation

# Upper bounds (bits) of the colour classes b0..b9, from cheap (green) to costly (red).
BUCKETS = [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, float("inf")]
COLOURS = ["#1a9850", "#66bd63", "#a6d96a", "#d9ef8b", "#ffffbf", "#fee08b", "#fdae61", "#f46d43", "#d73027",
           "#a50026"]
_SHOWN = {9: "→\t", 13: "\\r", 10: "⏎"}


def _bucket(bits: float) -> int:
    return next(i for i, hi in enumerate(BUCKETS) if bits < hi)


def _chars(data: bytes):
    """(start, end, text shown) per character: UTF-8 sequences together, other bytes alone."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        width = 1 if b < 0x80 else 2 if 0xC2 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else 4 if 0xF0 <= b < 0xF5 else 0
        if width > 1:
            try:
                text = data[i : i + width].decode("utf-8")
                yield i, i + width, text
                i += width
                continue
            except UnicodeDecodeError:
                pass
        if b in _SHOWN:
            yield i, i + 1, _SHOWN[b]
        elif b < 0x20 or b == 0x7F or b >= 0x80:
            yield i, i + 1, f"\\x{b:02x}"
        else:
            yield i, i + 1, chr(b)
        i += 1


def _symbol(b: int) -> str:
    return {9: "\\t", 10: "\\n", 13: "\\r", 32: "␣"}.get(b, chr(b) if 32 < b < 127 else f"\\x{b:02x}")


def _lines(ex: Explanation):
    """Per line: list of (start, end, shown text, bits) and the line's bits and bytes."""
    line, line_bits, line_start = [], 0.0, 0
    for start, end, text in _chars(ex.data):
        bits = float(ex.bits[start:end].sum())
        line.append((start, end, text, bits))
        line_bits += bits
        if ex.data[start] == 10:
            yield line, line_bits, end - line_start
            line, line_bits, line_start = [], 0.0, end
    if line:
        yield line, line_bits, len(ex.data) - line_start


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>lstmzip explain: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
#legend span {{ display: inline-block; padding: 0.1em 0.5em; font-size: 0.85em; }}
#text {{ font-family: ui-monospace, monospace; font-size: 14px; line-height: 1.45; white-space: pre-wrap; }}
.line {{ display: flex; }}
.lb {{ flex: 0 0 4.5em; color: #888; text-align: right; padding-right: 0.8em; user-select: none; font-size: 0.8em; }}
.tx {{ flex: 1; }}
.c {{ cursor: default; }}
.ctl {{ color: #555; font-size: 0.7em; }}
{classes}
#tip {{ position: fixed; display: none; background: #fff; border: 1px solid #999; padding: 0.4em 0.6em;
        font: 13px ui-monospace, monospace; box-shadow: 2px 2px 6px #0003; pointer-events: none; }}
</style>
<script>window.addEventListener("error", () => {{ document.documentElement.dataset.errors =
  String(Number(document.documentElement.dataset.errors || 0) + 1); }});</script>
</head>
<body>
<h1>{title}</h1>
<p id="summary">Model <b>{model}</b>: <b id="total-bits">{total:.1f}</b> bits for {shown} bytes
(<b id="bpc">{bpc:.4f}</b> bpc){partial}. Each character is coloured by its cost in bits under the model
(with the context bias and the match model, as <code>lstmzip bpc</code> counts it); the numbers on the left
are each line's bpc; hover a character for the model's top {top} predictions there.</p>
<div id="legend">{legend}</div>
<p id="check"></p>
<div id="text">{body}</div>
<div id="tip"></div>
<script>
"use strict";
const TOP = {top_json};
const SYM = {sym_json};
const spans = document.querySelectorAll("#text span.c");
spans.forEach((s, i) => {{ s.i = i; }});
const tip = document.getElementById("tip");
document.getElementById("text").addEventListener("mouseover", (e) => {{
  const s = e.target;
  if (!s.classList || !s.classList.contains("c")) {{ tip.style.display = "none"; return; }}
  const preds = TOP[s.i];
  let h = "<b>" + s.dataset.b + " bits</b>";
  if (preds) {{
    for (let k = 0; k < preds.length; k += 2) h += "<br>" + SYM[preds[k]] + " " + (preds[k + 1] / 10).toFixed(1) + "%";
  }} else {{
    h += "<br>(not coded: the CR of a CRLF)";
  }}
  tip.innerHTML = h;
  tip.style.display = "block";
}});
document.getElementById("text").addEventListener("mousemove", (e) => {{
  tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px";
}});
document.getElementById("text").addEventListener("mouseleave", () => {{ tip.style.display = "none"; }});
let sum = 0;
spans.forEach((s) => {{ sum += parseFloat(s.dataset.b); }});
const check = document.getElementById("check");
check.dataset.sum = sum.toFixed(4);
check.dataset.chars = String(spans.length);
check.dataset.loadMs = String(Math.round(performance.now()));  // page responsiveness, for the tests
document.body.dataset.ready = "1";
</script>
</body></html>
"""


def explain_html(ex: Explanation, title: str) -> str:
    classes = "\n".join(f".b{i} {{ background: {c}; }}" for i, c in enumerate(COLOURS))
    legend = "".join(f'<span class="b{i}">&lt; {hi:g} bits</span>' if hi != float("inf") else
                     f'<span class="b{i}">&ge; {BUCKETS[i - 1]:g} bits</span>' for i, hi in enumerate(BUCKETS))
    rows, top = [], []
    for line, line_bits, line_bytes in _lines(ex):
        spans = []
        for start, _end, text, bits in line:
            ctl = " ctl" if text in _SHOWN.values() or (len(text) == 4 and text.startswith("\\x")) else ""
            spans.append(f'<span class="c b{_bucket(bits)}{ctl}" data-b="{bits:.4f}">{html.escape(text)}</span>')
            if ex.predicted[start]:
                # flat [byte, probability in 0.1%, ...]: a third of the size of nested pairs
                top.append([v for s, p in zip(ex.top_symbols[start], ex.top_probs[start]) for v in (int(s), round(1000 * float(p)))])
            else:
                top.append(None)
        rows.append(f'<div class="line"><span class="lb">{line_bits / max(1, line_bytes):.2f}</span>'
                    f'<span class="tx">{"".join(spans)}</span></div>')
    partial = (f", the first {len(ex.data):,} of {ex.file_bytes:,} bytes of the file"
               if ex.file_bytes > len(ex.data) else "")
    sym = [html.escape(_symbol(b)) for b in range(256)]
    return PAGE.format(title=html.escape(title), model=html.escape(ex.model), total=ex.total_bits, shown=f"{len(ex.data):,}",
                       bpc=ex.bpc, partial=partial, top=len(ex.top_symbols[0]) if len(ex.data) else 5, legend=legend,
                       classes=classes, body="".join(rows), top_json=json.dumps(top, separators=(",", ":")),
                       sym_json=json.dumps(sym, ensure_ascii=False))


def explain_terminal(ex: Explanation, console) -> None:
    """The text with each character's background coloured by its cost (rich), then a summary."""
    from rich.text import Text

    out = Text()
    for start, _end, text, bits in (c for line, _b, _n in _lines(ex) for c in line):
        shown = "\n" if ex.data[start] == 10 else text
        out.append(shown, style=f"black on {COLOURS[_bucket(bits)]}" if shown != "\n" else None)
    console.print(out)
    legend = Text("legend: ")
    for i, hi in enumerate(BUCKETS):
        legend.append(f" <{hi:g} " if hi != float("inf") else f" >={BUCKETS[i - 1]:g} ", style=f"black on {COLOURS[i]}")
    legend.append(" bits")
    console.print(legend)
    console.print(f"{ex.model}: {ex.total_bits:.1f} bits for {len(ex.data)} bytes, {ex.bpc:.4f} bpc")
