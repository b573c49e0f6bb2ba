"""Atomic outputs and folder locks.

A run writes every output into a staging folder beside the target folder; only when all
of them are complete are they moved into place with ``os.replace`` (atomic per file, and
the whole set is moved in one short burst at the end). A failed or interrupted run removes
its staging folder and leaves the previous outputs untouched.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segtool.errors import LockedError, OutputError, SegtoolError

LOCK_NAME = ".segtool.lock"
STAGING_PREFIX = ".segtool-tmp-"


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{path}: disk full while writing outputs; previous outputs were left as they were"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: not writable ({exc.strerror}); choose another --out folder"
    return f"{path}: cannot write: {exc.strerror or exc}"


@contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator:
    """Write one file atomically: a temp file in the same folder, fsync, rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(_describe_os_error(path.parent, exc)) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _silent_unlink(tmp)
        raise OutputError(_describe_os_error(path, exc)) from None
    except BaseException:
        _silent_unlink(tmp)
        raise


def _silent_unlink(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class OutputSet:
    """Stage a set of output files and move them into ``target`` together.

    Use as a context manager: files are written to :meth:`path` (in the staging folder);
    on normal exit they are committed, on any exception (including KeyboardInterrupt and
    SystemExit from a signal) the staging folder is removed and ``target`` is unchanged.
    """

    def __init__(self, target: Path):
        self.target = Path(target)
        self.staging: Path | None = None
        self.names: list[str] = []

    def __enter__(self) -> OutputSet:
        try:
            self.target.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.target))
        except OSError as exc:
            raise OutputError(_describe_os_error(self.target, exc)) from None
        return self

    def path(self, name: str) -> Path:
        assert self.staging is not None, "OutputSet used outside its with-block"
        if name not in self.names:
            self.names.append(name)
        return self.staging / name

    def commit(self) -> list[Path]:
        assert self.staging is not None
        written = []
        try:
            for name in self.names:
                staged = self.staging / name
                if staged.exists():
                    os.replace(staged, self.target / name)
                    written.append(self.target / name)
        except OSError as exc:
            raise OutputError(_describe_os_error(self.target, exc)) from None
        finally:
            self.rollback()
        return written

    def rollback(self) -> None:
        if self.staging is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.rollback()
        if isinstance(exc, SegtoolError):
            return
        os_error = _os_error_in(exc)
        if os_error is not None:  # disk full, quota, I/O error inside a writer
            _release_writers(exc)
            raise OutputError(_describe_os_error(self.target, os_error)) from None


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc``: itself, its cause or context, or wrapped in its args
    (xlsxwriter's FileCreateError wraps the OSError it caught)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.errno is not None:
            return item
        rust = re.search(r"\(os error (\d+)\)", str(item))  # polars: "... (os error 28)"
        if rust:
            code = int(rust.group(1))
            return OSError(code, os.strerror(code))
        todo.extend([item.__cause__, item.__context__, *item.args])
    return None


def _release_writers(exc: BaseException) -> None:
    """Close the files a writer left open when it failed, now and quietly.

    A writer that fails half-way (xlsxwriter on a full disk) leaves its zip file open in
    a finished frame; when that is garbage-collected its close() fails again and Python
    prints "Exception ignored ... Traceback" on stderr. Clearing the frames here closes it
    at once, with that expected second failure not reported.
    """
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None
    try:
        traceback.clear_frames(exc.__traceback__)
        for linked in (exc.__cause__, exc.__context__):
            if linked is not None:
                traceback.clear_frames(linked.__traceback__)
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _remove_stale_staging(folder: Path) -> None:
    """Staging folders left by a run that was killed (SIGKILL, power loss): with the lock
    held no other run can be writing into them."""
    for stale in folder.glob(f"{STAGING_PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


class FolderLock:
    """An exclusive lock on a folder, held while a step or run writes into it.

    Uses ``flock`` on ``<folder>/.segtool.lock``: the kernel drops it when the process
    dies, so a killed run never leaves a stale lock behind.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        import fcntl

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(_describe_os_error(self.folder, exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"{self.folder}: locked by another segtool run; try again when it has finished"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise OutputError(_describe_os_error(self.folder, exc)) from None
        self._fd = fd
        _remove_stale_staging(self.folder)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
