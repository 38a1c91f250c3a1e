"""Reading user text files and writing comet's files safely.

One place for what every reader and writer of comet must do the same way:

* :func:`read_text`: a user file as UTF-8 text; a byte that is not UTF-8 is an
  :class:`~comet.errors.InputError` naming the file and the line (not a UnicodeDecodeError).
* :func:`write_atomic` / :func:`atomic_path`: a file appears complete or not at all (temporary
  file in the same directory, fsync, ``os.replace``), with the permissions an ordinary
  ``open(path, "w")`` would give (``0666 & ~umask``, 0644 under the usual umask) - the same as
  the streamed traces, not ``mkstemp``'s 0600. A failure (full disk, no permission) leaves no
  temporary file and is an :class:`~comet.errors.InputError` naming the path.
* :func:`ensure_dir`: an output directory, created if needed; a path under a regular file, an
  unwritable place or a full disk is one line naming the path.
* :func:`os_error`: any ``OSError`` as that one-line :class:`~comet.errors.InputError`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from comet.errors import InputError

__all__ = [
    "atomic_path",
    "ensure_dir",
    "file_mode",
    "os_error",
    "read_text",
    "write_atomic",
]

_HINTS = {
    errno.ENOSPC: "the file system is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exhausted: free some space or write elsewhere",
    errno.EACCES: "no permission: choose a directory you can write to",
    errno.EPERM: "no permission: choose a directory you can write to",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENOTDIR: "a part of the path is a regular file, not a directory",
    errno.EEXIST: "a file of that name is in the way",
    errno.EISDIR: "the path is a directory: give a file name",
    errno.ENAMETOOLONG: "use a shorter path",
}


def file_mode() -> int:
    """The mode a new file gets from ``open(path, "w")``: ``0o666 & ~umask``."""
    try:  # Linux: read the umask without changing it (thread-safe)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - non-Linux
    os.umask(mask)  # pragma: no cover
    return 0o666 & ~mask  # pragma: no cover


def os_error(
    err: OSError, path: str | os.PathLike[str] | None = None, what: str = ""
) -> InputError:
    """A one-line :class:`InputError` for ``err``: ``path: what: reason (hint)``."""
    where = path if path is not None else (err.filename or None)
    reason = (err.strerror or type(err).__name__).lower()
    return InputError(
        f"{what}: {reason}" if what else reason, path=where, hint=_HINTS.get(err.errno or 0)
    )


def ensure_dir(path: str | os.PathLike[str], what: str = "output directory") -> Path:
    """Create directory ``path`` (and its parents) if needed and return it.

    Raises:
        InputError: the path is a file, lies under a regular file, or cannot be created.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{what} is a file, not a directory", path=p, hint="give a directory")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{what}: a file of that name is in the way", path=p) from None
    except OSError as err:
        raise os_error(err, p, f"cannot create the {what}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into the {what}", path=p, hint=_HINTS[errno.EACCES])
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``; renamed to ``path`` when the block succeeds.

    The block writes the temporary file (e.g. ``fig.savefig(tmp)``); on success it gets
    :func:`file_mode` and replaces ``path``. On any exception it is removed; ``OSError`` becomes
    an :class:`InputError` naming ``path``. ``suffix`` keeps a format recognisable by extension.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=directory)
    except OSError as err:
        raise os_error(err, target, "cannot write") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists() and tmp.stat().st_size == 0 and target.suffix in _NON_EMPTY:
            raise InputError("nothing was written", path=target)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise os_error(err, target, "cannot write") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: extensions of files that are never legitimately empty (a 0-byte PNG is a failed write)
_NON_EMPTY = frozenset({".png", ".gif", ".mp4", ".pdf", ".svg", ".npz"})


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, sync: bool = True) -> None:
    """Write ``data`` (text as UTF-8, newlines as given) to ``path`` atomically; ``sync``
    also fsyncs it (survives a power cut, costs a disk flush per file).

    Raises:
        InputError: the file cannot be written (full disk, no permission...), naming ``path``.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(payload)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())


def read_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """The UTF-8 text of a user file.

    Raises:
        InputError: missing file, unreadable file, or bytes that are not UTF-8 (naming the line
            and the byte).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=p) from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file", path=p) from None
    except OSError as err:
        raise os_error(err, p, f"cannot read the {what}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"byte 0x{data[err.start]:02x} at column {col} is not UTF-8 text",
            path=p,
            line=line,
            hint=f"save the {what} as UTF-8 (comments included)",
        ) from None
