"""Fuzz the archive reader: every mutated archive must decode to the original bytes or fail
with a clean LstmzipError; never another exception, a hang, or different bytes without error.

    python -m tests.fuzz.fuzz_archive --cases 100000 --seed 1 --json out.json --markdown out.md
        mutation fuzzing (tests/fuzz/mutations.py) with counts: cases, clean errors, correct
        outputs, crashes, hangs, wrong outputs; failing inputs are saved with --save DIR.
        Exit code 1 if there was any crash, hang or wrong output.
    python -m tests.fuzz.fuzz_archive --atheris --cases 20000 [libFuzzer options, e.g. -max_len=4096]
        coverage-guided with atheris (pip install atheris), the seed archives as its corpus;
        counts printed after the last case (a crash or hang stops it with libFuzzer's report).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no `except Exception` in the code swallows it."""


def _alarm(_signum, _frame):
    raise Hang()


def run_case(archive: bytes, original: bytes | None, timeout: float) -> tuple[str, str]:
    """('correct'|'clean_error'|'wrong'|'crash'|'hang', detail)."""
    import lstmzip
    from lstmzip.errors import LstmzipError

    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        out = lstmzip.decompress(archive)
    except LstmzipError as e:
        return "clean_error", re.sub(r"\d+", "N", re.sub(r"[0-9a-f]{8,}", "HEX", str(e).split(":")[0]))[:80]
    except Hang:
        return "hang", ""
    except Exception as e:  # noqa: BLE001  what the fuzzer looks for
        return "crash", "".join(traceback.format_exception_only(type(e), e)).strip()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if original is not None and out != original:
        return "wrong", f"{len(out)} bytes"
    return "correct", ""


def mutation_fuzz(cases: int, seed: int, timeout: float, save: Path | None, progress_every: int = 1000) -> dict:
    import torch

    from tests.fuzz.mutations import mutate, seeds

    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    pool = seeds()
    archives = [s.archive for s in pool]
    originals = {s.archive: s.original for s in pool}
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    per_seed: Counter[str] = Counter()
    slowest, start = 0.0, time.time()
    for i in range(cases):
        s = pool[rng.randrange(len(pool))]
        bad = mutate(s.archive, rng, archives)
        t = time.perf_counter()
        # A valid archive can only come out unchanged, or as another seed's archive exactly (all
        # seeds share one header, so a splice at a block boundary can rebuild one).
        outcome, detail = run_case(bad, originals.get(bad, s.original), timeout)
        slowest = max(slowest, time.perf_counter() - t)
        counts[outcome] += 1
        per_seed[s.name] += 1
        if outcome == "clean_error":
            errors[detail] += 1
        elif outcome != "correct" and save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{outcome}-{seed}-{i}.lstmz").write_bytes(bad)
            (save / f"{outcome}-{seed}-{i}.txt").write_text(f"seed archive {s.name}\n{detail}\n")
        if progress_every and (i + 1) % progress_every == 0:
            print(f"{i + 1} cases, {dict(counts)}, {time.time() - start:.0f} s", file=sys.stderr, flush=True)
    return {"cases": cases, "seed": seed, "timeout_s": timeout, "clean_errors": counts["clean_error"],
            "correct_outputs": counts["correct"], "crashes": counts["crash"], "hangs": counts["hang"],
            "wrong_outputs": counts["wrong"], "slowest_case_s": round(slowest, 3),
            "elapsed_s": round(time.time() - start, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "cases_per_seed": dict(per_seed), "error_messages": dict(errors.most_common(25))}


def markdown(r: dict) -> str:
    rows = [("cases (mutated archives)", r["cases"]), ("clean errors (`lstmzip: ...`)", r["clean_errors"]),
            ("correct outputs (the original bytes)", r["correct_outputs"]), ("crashes (any other exception)", r["crashes"]),
            (f"hangs (over {r['timeout_s']:g} s)", r["hangs"]), ("wrong outputs (other bytes, no error)", r["wrong_outputs"]),
            ("slowest case", f"{r['slowest_case_s']} s"), ("peak RSS of the fuzzing process", f"{r['peak_rss_mib']} MiB"),
            ("elapsed", f"{r['elapsed_s']:.0f} s")]
    out = ["# Fuzzing the archive reader\n",
           f"`python -m tests.fuzz.fuzz_archive --cases {r['cases']} --seed {r['seed']}`: seed archives of every block "
           "method (tests/fuzz/mutations.py) damaged by 1-3 random mutations each (bit flips, byte writes, inserts, "
           "deletes, truncation, appended garbage, copied ranges, splices with another archive, and header fields "
           "rewritten with their CRC fixed), then decoded in-process.\n", "| | |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    out += ["\nCases per seed archive: " + ", ".join(f"{k} {v}" for k, v in sorted(r["cases_per_seed"].items())) + ".\n",
            "Most frequent clean errors (digits shown as N):\n", "| message | cases |", "|---|---:|"]
    out += [f"| {m} | {n} |" for m, n in r["error_messages"].items()]
    return "\n".join(out) + "\n"


def atheris_fuzz(argv: list[str], cases: int, timeout: float, out_json: Path | None) -> None:
    """Coverage-guided: libFuzzer (through atheris) mutates the seed archives for `cases` runs.
    A crash (any exception but LstmzipError) or a hang (-timeout) stops it with libFuzzer's
    report and the input saved; otherwise the counts are printed after the last run."""
    import atheris

    with atheris.instrument_imports(include=["lstmzip"]):
        import lstmzip.codec.range_coder  # noqa: F401  (imported here so that it is instrumented)
        import lstmzip
        import lstmzip.api  # noqa: F401
        import lstmzip.pipeline  # noqa: F401
        import lstmzip.stages.host.context_bias  # noqa: F401
        import lstmzip.stages.host.match_model  # noqa: F401
        from lstmzip.errors import LstmzipError
    from tests.fuzz.mutations import seeds

    known = {s.archive: s.original for s in seeds()}
    corpus = Path(tempfile.mkdtemp(prefix="lstmzip-fuzz-corpus-"))
    for i, archive in enumerate(known):
        (corpus / f"seed{i}.lstmz").write_bytes(archive)
    counts: Counter[str] = Counter()
    start = time.time()

    def one_input(data: bytes) -> None:
        try:
            out = lstmzip.decompress(data)
            if data in known and out != known[data]:
                raise AssertionError("a seed archive decoded to other bytes")
            counts["correct_outputs" if data in known else "other_valid_archives"] += 1
        except LstmzipError:
            counts["clean_errors"] += 1
        if sum(counts.values()) == cases:  # libFuzzer exits right after its last run
            result = {"mode": "atheris", "cases": cases, **counts, "crashes": 0, "hangs": 0, "wrong_outputs": 0,
                      "elapsed_s": round(time.time() - start, 1)}
            print(json.dumps(result), flush=True)
            if out_json:
                out_json.write_text(json.dumps(result, indent=1) + "\n")

    atheris.Setup([sys.argv[0], f"-runs={cases}", f"-timeout={int(timeout)}", *argv, str(corpus)], one_input)
    atheris.Fuzz()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds before a case counts as a hang")
    p.add_argument("--json", type=Path, help="write the counts here")
    p.add_argument("--markdown", type=Path, help="write a markdown report here")
    p.add_argument("--report-from", type=Path, help="only turn an earlier --json file into --markdown")
    p.add_argument("--save", type=Path, help="keep failing inputs in this folder")
    p.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing; other args go to libFuzzer")
    args, rest = p.parse_known_args()
    if args.atheris:
        atheris_fuzz(rest, args.cases, args.timeout, args.json)
        return
    if args.report_from:
        result = json.loads(args.report_from.read_text())
    else:
        result = mutation_fuzz(args.cases, args.seed, args.timeout, args.save)
        print(json.dumps(result, indent=1))
    if args.json and not args.report_from:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(result))
    sys.exit(1 if result["crashes"] or result["hangs"] or result["wrong_outputs"] else 0)


if __name__ == "__main__":
    main()
