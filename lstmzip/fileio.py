"""Files: safe output (a temporary file beside the target, fsync, rename) and folder walks."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from lstmzip.errors import LstmzipError


@contextlib.contextmanager
def atomic_output(target: Path, force: bool, mode_from: str | None = None):
    """Yield a binary file; on success it replaces `target`, on any error it is removed.

    The new file gets the permission bits of `mode_from` (the input, as gzip does), else
    the usual 0666 less the umask.
    """
    target = Path(target)
    if target.exists() and not force:
        raise LstmzipError(f"{target} already exists; use -f to overwrite")
    if target.is_dir():
        raise LstmzipError(f"{target} is a directory")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise LstmzipError(f"cannot write to {folder}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode(mode_from))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode(source: str | None) -> int:
    if source is not None and source != "-":
        try:
            return os.stat(source).st_mode & 0o777
        except OSError:
            pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def open_input(path: Path):
    """Open a user's input file, turning OS errors into one-line messages."""
    path = Path(path)
    if path.is_dir():
        raise LstmzipError(f"{path} is a directory")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise LstmzipError(f"{path}: no such file") from None
    except PermissionError:
        raise LstmzipError(f"{path}: permission denied") from None
    except OSError as e:
        raise LstmzipError(f"{path}: {e.strerror}") from None


def walk_files(folder: Path) -> list[Path]:
    """Every file under `folder`, recursively and sorted, leaving out hidden files and
    anything inside hidden folders (.git and the like)."""
    return sorted(f for f in folder.rglob("*")
                  if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts))
