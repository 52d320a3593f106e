"""Files: safe output (an unnamed temporary file beside the target, fsync, rename) and folder walks."""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from lstmzip.errors import LstmzipError

# O_TMPFILE makes a file with no name until it is linked: a process killed even with SIGKILL
# leaves nothing behind. Filesystems without it (NFS, some overlays) get a named temporary.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


@contextlib.contextmanager
def atomic_output(target: Path, force: bool, like: str | None = None):
    """Yield a binary file; on success it replaces `target`, on any error nothing is left.

    `like` is the input file (or None for stdin): the output gets its permission bits and
    modification time, as gzip and zstd do, and may not be the input itself.
    """
    target = Path(target)
    if like is not None and _same_file(target, like):
        raise LstmzipError(f"{target} is the input file itself; refusing to overwrite it")
    if target.is_dir():
        raise LstmzipError(f"{target} is a directory")
    if target.exists() and not force:
        raise LstmzipError(f"{target} already exists; use -f to overwrite")
    folder = target.parent if str(target.parent) else Path(".")
    f, named = _open_temporary(folder, target.name)
    try:
        with f:
            yield _Output(f, target)
            try:
                f.flush()
                os.fchmod(f.fileno(), _mode(like))
                if like is not None:
                    st = os.stat(like)
                    os.utime(f.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
                os.fsync(f.fileno())
                if named is None:
                    named = _link_unnamed(f.fileno(), folder, target.name)
                os.replace(named, target)
                named = None
            except OSError as e:
                raise LstmzipError(_os_message(e, target)) from None
        _fsync_folder(folder)
    finally:
        if named is not None:
            with contextlib.suppress(OSError):
                os.unlink(named)


class _Output:
    """The temporary file as the writer sees it: write errors name the target (disk full...)."""

    def __init__(self, f, target: Path):
        self._f, self._target = f, target

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            raise LstmzipError(_os_message(e, self._target)) from None

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            raise LstmzipError(_os_message(e, self._target)) from None

    def fileno(self) -> int:
        return self._f.fileno()


def _open_temporary(folder: Path, name: str):
    """(file, path): an unnamed O_TMPFILE file (path None) where the filesystem has them."""
    try:
        if _O_TMPFILE:
            try:
                return os.fdopen(os.open(folder, _O_TMPFILE | os.O_WRONLY, 0o600), "wb"), None
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                    raise
                if e.errno == errno.ENOENT and not folder.is_dir():
                    raise
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        return os.fdopen(fd, "wb"), tmp
    except OSError as e:
        raise LstmzipError(f"cannot write to {folder}: {e.strerror}") from None


def _link_unnamed(fd: int, folder: Path, name: str) -> str:
    """Give an O_TMPFILE file a temporary name in `folder` (os.replace then moves it)."""
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N, as open(2) describes; passing a dir fd
    # makes os.link call linkat (plain link(2) would try to link the /proc symlink itself).
    proc = os.open("/proc/self/fd", os.O_RDONLY)
    try:
        for _ in range(100):
            tmp = os.path.join(folder, f".{name}.{os.urandom(4).hex()}.tmp")
            try:
                os.link(str(fd), tmp, src_dir_fd=proc, follow_symlinks=True)
                return tmp
            except FileExistsError:
                continue
    finally:
        os.close(proc)
    raise LstmzipError(f"cannot name a temporary file in {folder}")


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened or synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _same_file(target: Path, source: str) -> bool:
    try:
        return os.path.samefile(target, source)
    except OSError:
        return False


def _os_message(e: OSError, target: Path) -> str:
    if e.errno == errno.ENOSPC:
        return f"{target}: no space left on device (nothing was written)"
    return f"{target}: {e.strerror or e}"


def _mode(source: str | None) -> int:
    if source is not None:
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
