"""The parameter tables of docs/FORMAT.md, generated from the code that codes the blocks.

    python docs/format_tables.py            # print the tables
    python docs/format_tables.py --write    # replace them in docs/FORMAT.md (between the markers)

tests/test_docs.py fails when FORMAT.md and the code disagree, so a new block method (a new
row of pipeline.STAGES or stages.recipes.RECIPES) cannot land without its parameters stated.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from lstmzip import pipeline
from lstmzip.container import LSTM_METHODS, Method
from lstmzip.models import fixed_point
from lstmzip.stages import mix
from lstmzip.stages.host import bias_mixer, context_bias, match_model, record_context
from lstmzip.stages.recipes import RECIPES

FORMAT_MD = Path(__file__).with_name("FORMAT.md")
BEGIN, END = "<!-- format_tables: begin -->", "<!-- format_tables: end -->"

# What each config field means, for the tables (the dataclasses' comments, shortened).
BIAS_FIELDS = {
    "orders": "context orders with a table (order k: the stream's last k bytes)",
    "hash_bits": "log2 rows of each hashed table (order >= 2; order 1 has 256 rows)",
    "bias_frac_bits": "table units per logit unit are 2^this",
    "rate_shift": "update step: gradient sum >> this",
    "warm": "a row's n-th update is scaled by warm / (warm + min(n, cap))",
    "cap": "see warm",
    "count_scale": "a row used by c streams in a step moves by: mean = sum / c; sqrt = sum / round(sqrt(c))",
    "record": "tables keyed by the byte's place in its line (kinds of lstmzip/stages/host/record_context.py)",
    "match_context": "a table keyed by the match model's predicted byte",
    "rep_context": "a table keyed by the rep pointer's byte where it differs from the match's",
    "extra_bits": "log2 rows of each record, match and rep table",
    "logit_scale": "the LSTM's logits times one learned Q12 factor in [0, 2]",
    "mixer": "learned Q12 weights per table and LSTM scale, one set per (byte class, match state)",
    "mixer_weight_shift": "mixer weight step: gradient >> this",
    "mixer_scale_shift": "mixer LSTM-scale step: gradient >> this",
    "entry_bits": "bits of a table entry: 32 (clamped to +-2^22) or 16 (clamped to +-32767)",
}
MATCH_FIELDS = {
    "max_misses": "mispredicted bytes a match survives (0: the first miss drops it)",
    "own_stream_table": "look the context up in the stream's own earlier bytes first",
    "digit_cells": "APM cells also keyed by whether the predicted byte is a digit",
    "long_context": "bytes of a second, long context (0: none); its hit replaces a shorter match",
    "rep_after": "match length after which a rep pointer copies it (0: no rep pointer)",
    "rep_misses": "misses after which the rep pointer is dropped",
    "rep_cells": "APM cells also keyed by whether the rep pointer disagrees",
    "own_long_table": "look the long context up in the stream's own bytes first",
    "column_apm": "a second APM keyed by column (0..63) and coarse length, averaged with the first",
}
MIX_FIELDS = {
    "orders": "context orders with a counter table (order k: the stream's last k bytes)",
    "word": "a counter table keyed by the current word's letters and the last byte",
    "bucket_bits": "log2 buckets per table at most (a block has max(10, min(this, bit length of 2n - 1)))",
    "rate_limit": "a counter's step is its error * 2 / (2 min(v, this) + 3), v its bucket's visits",
    "mix_shift": "mixer weight step: (input * error + 2^(this - 1)) >> this",
    "apm_rate": "probability map step: error * share >> (7 + this)",
    "apm": "the probability map refines the mixer's output",
    "match_set_edges": "match lengths from which the mixer takes weight set 1, 2, ... (set 0: shorter or no match)",
    "match_input": "the match model's predicted bit is a mixer input",
    "match_rate": "match input probability step: (65535 * right - P) >> this",
    "shares": "how c steps at one weight or map cell in a step add up: each / c (mean) or each * 16 / round(16 sqrt(c)) (sqrt)",
    "weight_warm": "> 0: mixer steps times (warm_boost * this + n) / (this + n), n the weight set's updates so far",
    "warm_boost": "how much faster a fresh weight set learns (with weight_warm)",
    "class_weights": "weights added from a second table keyed by (previous byte >> class_shift, nibble, depth)",
    "class_shift": "the previous byte's class is the byte >> this",
    "class_step": "the second table learns the mixer's steps >> this",
    "conf_edges": "a context's weight is taken from level i + 1 where its bucket's visits are >= edge i (level 0 below)",
    "own_orders": "orders with a second counter table keyed by the stream too (after the word's)",
    "word_history": "counter tables keyed by the last 1, 2, .. this many words, the current word and the last byte (after the own orders')",
    "check_bits": "> 0: each bucket holds a check of this many bits of its context's hash; another context reads fresh counters there (section 5.4)",
    "check_keep": "with check_bits: a bucket seen this many times is not taken over by another context, but loses a visit",
}
CONSTANT_MODULES = (fixed_point, record_context, context_bias, match_model, bias_mixer, mix)


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, tuple):
        return ", ".join(str(x) for x in v) if v else "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) and v >= 1 << 10 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    if isinstance(v, int) and v > 4096:
        return hex(v)
    return str(v)


def _version_name(module, config) -> str:
    names = [n for n, v in vars(module).items() if re.fullmatch(r"[A-Z]+_V\d+", n) and v is config]
    return min(names) if names else "-"


def _versions(module, prefix: str) -> list[tuple[str, object]]:
    return sorted(((n, v) for n, v in vars(module).items() if re.fullmatch(prefix + r"_V\d+", n)),
                  key=lambda nv: int(nv[0].rsplit("V", 1)[1]))


def methods_table() -> list[str]:
    rows = ["| method | name | context bias | match model | mixing | stream layout | warm start | stream length | coder |",
            "|---:|---|---|---|---|---|---|---|---|"]
    config = pipeline.CodingConfig()
    for m in LSTM_METHODS:
        if m in RECIPES:
            r = RECIPES[m]
            bias, match, warm, long_streams, ramp = r.bias, r.match, r.warm_start, False, r.ramp
            coder = f"interleaved rANS, {r.coder_group} streams per coder"
            if r.mix is not None:
                coder += ", two nibbles a byte"
            mixing = _version_name(mix, r.mix) if r.mix is not None else "none"
        else:
            s = pipeline.STAGES[m]
            bias, match, warm, long_streams, ramp = s.bias, s.match, s.warm_start, s.long_streams, s.ramp
            coder = "range coder (constriction)"
            mixing = "none"
        layout = f"ramp (first {ramp.first}, double every {ramp.double})" if ramp else "plain"
        length = f">= {config.columns_stream_len} B" if long_streams else f">= {config.min_stream_len} B"
        bias_name = _version_name(context_bias, bias) if bias else "none"
        rows.append(f"| {int(m)} | `{m.name.lower()}` | {bias_name} | {_version_name(match_model, match)} | "
                    f"{mixing} | {layout} | {_value(warm)} | {length} | {coder} |")
    return rows


def config_table(module, prefix: str, fields: dict[str, str]) -> list[str]:
    versions = _versions(module, prefix)
    rows = ["| field | " + " | ".join(n for n, _ in versions) + " | meaning |",
            "|---|" + "---|" * len(versions) + "---|"]
    declared = [f.name for f in dataclasses.fields(versions[0][1])]
    missing = set(declared) - set(fields)
    if missing:
        raise SystemExit(f"format_tables: describe the new fields {sorted(missing)} in {prefix}_FIELDS")
    for name in declared:
        rows.append(f"| `{name}` | " + " | ".join(_value(getattr(v, name)) for _, v in versions)
                    + f" | {fields[name]} |")
    return rows


def constants_table() -> list[str]:
    rows, seen = ["| module | constant | value |", "|---|---|---|"], set()
    for module in CONSTANT_MODULES:
        short = module.__name__.removeprefix("lstmzip.")
        for name, v in vars(module).items():
            if not re.fullmatch(r"_?[A-Z][A-Z0-9_]*", name) or re.fullmatch(r"_?[A-Z]+_V\d+", name) \
                    or isinstance(v, bool) or not isinstance(v, (int, tuple, list, bytes)) or name in seen:
                continue  # not a constant, a config version (tabled above), or imported from a module above
            seen.add(name)
            shown = repr(v) if isinstance(v, (bytes, list)) else _value(v)
            rows.append(f"| `{short}` | `{name}` | `{shown}` |")
    return rows


def tables() -> str:
    parts = ["Block methods (`lstmzip/pipeline.py` `STAGES`, `lstmzip/stages/recipes.py` `RECIPES`):", "",
             *methods_table(), "",
             "Context bias versions (`lstmzip/stages/host/context_bias.py` `BiasConfig`):", "",
             *config_table(context_bias, "BIAS", BIAS_FIELDS), "",
             "Match model versions (`lstmzip/stages/host/match_model.py` `MatchConfig`):", "",
             *config_table(match_model, "MATCH", MATCH_FIELDS), "",
             "Context mixing versions (`lstmzip/stages/mix.py` `MixConfig`):", "",
             *config_table(mix, "MIX", MIX_FIELDS), "",
             "Constants of the integer engine and the stages (every method uses the same values):", "",
             *constants_table()]
    return "\n".join(parts)


def replaced(text: str, generated: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}\n{END}{tail}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"replace the tables in {FORMAT_MD}")
    a = ap.parse_args()
    if a.write:
        FORMAT_MD.write_text(replaced(FORMAT_MD.read_text(), tables()))
    else:
        sys.stdout.write(tables() + "\n")


if __name__ == "__main__":
    main()
