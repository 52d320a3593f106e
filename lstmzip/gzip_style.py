"""`lstmzip` called like gzip, xz or zstd, without a command: `lstmzip < a > a.lstmz`,
`lstmzip -d < a.lstmz`, `lstmzip FILE`, `lstmzip -dc FILE.lstmz`, `lstmzip -l FILE.lstmz`, so
that `tar -I lstmzip`, logrotate's compresscmd and pipelines work. The arguments are rewritten
into a command line of the subcommands (which stay as they are).

Like zstd, and unlike gzip, the input is kept (`-k` is accepted and changes nothing; `--rm`
removes it).
"""
from __future__ import annotations

import sys
from typing import Collection

_MODES = {"-d": "decompress", "--decompress": "decompress", "--uncompress": "decompress",
          "-z": "compress", "--compress": "compress", "-t": "test", "--test": "test", "-l": "list", "--list": "list"}
_SHORT_ALIASES = {"--keep": "-k", "--stdout": "-c", "--to-stdout": "-c", "--force": "-f", "--quiet": "-q",
                  "--verbose": "-v"}
# what each mode's command takes of the gzip flags (the others mean nothing there and are dropped)
_TAKES = {"compress": {"-c", "-f", "-q", "--fast", "--best"}, "decompress": {"-c", "-f", "-q"}, "test": {"-q"}, "list": {"-v"}}
_FLAG_LETTERS = set("dztlkcfqv")
# gzip's levels: -1 (and --fast) is lstmzip's --fast (no LSTM), -9 (--best) its --best; the
# levels between are lstmzip's default
_LEVELS = {"-1": "--fast", "--fast": "--fast", "-9": "--best", "--best": "--best",
           **{f"-{n}": None for n in range(2, 9)}}


def _expand(arg: str) -> list[str]:
    """-dc -> -d -c (only bundles of gzip's one-letter flags)."""
    if len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and set(arg[1:]) <= _FLAG_LETTERS:
        return [f"-{c}" for c in arg[1:]]
    return [_SHORT_ALIASES.get(arg, arg)]


def rewrite(argv: list[str], commands: Collection[str], stdin_is_terminal: bool = False) -> list[str]:
    """The subcommand command line for `argv` (the arguments after the program name);
    `commands`: the names of the subcommands, which pass through as they are."""
    if argv and (argv[0] in commands or argv[0] in ("--help", "-h", "--version", "-V")):
        return argv
    if not argv and stdin_is_terminal:
        return ["--help"]  # typed alone at a prompt: nothing to compress
    mode, flags, rest = "compress", [], []
    args = [a for arg in argv for a in _expand(arg)]
    for i, a in enumerate(args):
        if a == "--":
            rest += args[i:]
            break
        if a in _MODES:
            mode = _MODES[a]
        elif a == "-k":
            continue
        elif a in ("-c", "-f", "-q", "-v"):
            flags.append(a)
        elif a in _LEVELS:
            flags.append(_LEVELS[a])
        else:
            rest.append(a)
    kept = [f for f in dict.fromkeys(flags) if f in _TAKES[mode]]
    return [mode, *kept, *rest]


def main_argv(commands: Collection[str]) -> list[str]:
    return rewrite(sys.argv[1:], commands, sys.stdin.isatty())
