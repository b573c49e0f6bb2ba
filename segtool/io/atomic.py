"""One commit for all outputs, and folder locks.

A run writes every output into a staging folder *beside* the target folder
(``<parent>/.<name>.segtool-tmp-XXXX``). When every file is complete, the files of the
target that this run does not replace and that are not segtool's (an analyst's notes, a
subfolder) are hard-linked into the staging folder, and the two folders are exchanged with
one ``renameat2(RENAME_EXCHANGE)`` system call. Before it the target is wholly the old
folder, after it wholly the new one, whatever signal arrives (SIGKILL included). The old
folder, now under the staging name, is then removed; a run killed before that leaves it
behind, and the next run that locks the folder removes it.

Where the two folders cannot be exchanged in one call:

- the file system has no ``RENAME_EXCHANGE`` (non-Linux): two renames (target aside, staging
  in); a run killed between them leaves no target, and the next run puts the old folder back
  before it does anything else;
- the folder that holds the target is not writable: the staging folder goes *inside* the
  target and the files are moved one by one with signals held back, the old ones first moved
  aside so that a file that cannot be replaced puts every moved file back (the folder stays
  wholly old). Only SIGKILL or a power cut in the middle of those renames can leave a mix.

Files of an earlier run that this run does not write (a workbook when this run writes only
CSV, migration files without ``--previous``) are not carried over: the commit reports them
in :attr:`OutputSet.removed` so the console can say so.

Signals: ``cli.main`` turns SIGINT/SIGTERM into an exception. During the few system calls
that swap the folders it is held back (:func:`defer_signals`) and raised right after, so the
state is never ambiguous; :func:`interrupted_message` says which folders were replaced.

Test hook: ``SEGTOOL_TEST_PAUSE_AT=<stage>`` prints ``segtool-test: paused at <stage>`` on
stderr and sleeps (60 s, or ``SEGTOOL_TEST_PAUSE_SECONDS``) at that stage of the commit:
``staged`` (every file written in the staging folder), ``carried`` (other files linked in,
just before the swap), ``swapped`` (new folder in place, old one not yet removed), ``done``
(old folder removed). Tests send SIGTERM and SIGKILL there.

A database transaction (the contact history of a later version) joins the same commit: it is
written in the staging folder's copy of the database and committed there before the swap, so
the swap publishes it together with the files (see docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from segtool.errors import LockedError, OutputError, SegtoolError

LOCK_NAME = ".segtool.lock"  # the lock file of earlier versions; removed when seen
STAGING_PREFIX = ".segtool-tmp-"
PAUSE_ENV = "SEGTOOL_TEST_PAUSE_AT"
PAUSE_SECONDS_ENV = "SEGTOOL_TEST_PAUSE_SECONDS"
STAGES = ("staged", "carried", "swapped", "done")

# files a segtool output folder may hold: never carried from an earlier run to a new one
OUTPUT_STEMS = (
    "segments",
    "call_tasks",
    "mail_tasks",
    "data_quality",
    "migration",
    "deferred",
    "effectiveness",
    "effectiveness_breakdown",
    "holdout",
)
OUTPUT_NAMES = frozenset(
    [f"{stem}.{ext}" for stem in OUTPUT_STEMS for ext in ("xlsx", "csv")]
    + ["rejects.csv", "manifest.json", LOCK_NAME]
)


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{path}: disk full while writing outputs; previous outputs were left as they were"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"{path}: not writable ({exc.strerror}); close it if another program (Excel) has "
            "it open, make it writable, or choose another --out folder"
        )
    return f"{path}: cannot write: {exc.strerror or exc}; choose another --out folder"


@contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write one file atomically: a temp file in the same folder, fsync, rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(_describe_os_error(path.parent, exc), file=path.parent) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _silent_unlink(tmp)
        raise OutputError(_describe_os_error(path, exc), file=path) from None
    except BaseException:
        _silent_unlink(tmp)
        raise


def _silent_unlink(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- signals held back during the swap, and what an interruption leaves --------------------
_deferring = False
_deferred: list[int] = []
_committed: list[Path] = []


def defer_signal(signum: int) -> bool:
    """Called by the signal handler: True when the signal is held back until the swap ends."""
    if _deferring:
        _deferred.append(signum)
        return True
    return False


@contextmanager
def defer_signals(raise_after: Callable[[int], BaseException]) -> Iterator[None]:
    """Hold SIGINT/SIGTERM back inside the block; raise the first one right after it."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
        if _deferred:
            signum = _deferred[0]
            _deferred.clear()
            raise raise_after(signum)


class Interrupted(SystemExit):
    """SIGINT/SIGTERM as an exception (raised by ``cli.main``'s handler), so every ``with``
    block cleans up; the exit code is 128 + the signal number."""


def _interrupted(signum: int) -> BaseException:
    return Interrupted(128 + signum)


def interrupted_message() -> str:
    """What an interrupted command tells the user, true to what was committed so far."""
    if not _committed:
        return "interrupted; outputs were left as they were"
    done = ", ".join(str(p) for p in dict.fromkeys(_committed))
    return (
        f"interrupted after the new files were complete in {done}; "
        "other outputs were left as they were"
    )


def committed_folders() -> list[Path]:
    return list(_committed)


def forget_commits() -> None:
    """A new command starts (``cli.main``): nothing of it is committed yet."""
    _committed.clear()
    _deferred.clear()


def _pause(stage: str) -> None:
    """The test hook (module docstring)."""
    if os.environ.get(PAUSE_ENV) == stage:
        sys.stderr.write(f"segtool-test: paused at {stage}\n")
        sys.stderr.flush()
        time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "60")))


# -- exchanging two folders ------------------------------------------------------------------
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one system call; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):  # no such call, or the file system says no
        return False
    raise OSError(code, os.strerror(code), str(a))


def _previous_outputs(folder: Path) -> set[str]:
    """Names an earlier run wrote into ``folder``: its manifest's list and the known names."""
    names = set(OUTPUT_NAMES)
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        listed = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["outputs"]
        names.update(str(n) for n in listed if "/" not in str(n) and str(n) not in (".", ".."))
    return names


def _link_into(source: Path, target: Path) -> None:
    """``source`` (a file, a symlink or a folder) appears at ``target`` without copying data."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # another file system, or hard links of others' files not allowed
        shutil.copy2(source, target, follow_symlinks=False)


class OutputSet:
    """Stage a set of output files and publish them in ``target`` in one commit.

    Use as a context manager: files are written to :meth:`path` (in the staging folder); on
    normal exit they are committed, on any exception (including the SystemExit a signal
    becomes) the staging folder is removed and ``target`` is unchanged.

    ``keep_others`` (the workspace): every file of ``target`` this set does not write is
    kept. Otherwise (an output folder) the files an earlier run wrote and this one does not
    are dropped and listed in :attr:`removed`; files that are not segtool's are kept.
    """

    def __init__(self, target: Path, *, keep_others: bool = False):
        self.target = Path(target)
        self.keep_others = keep_others
        self.staging: Path | None = None
        self.in_place = False  # staging inside target (its parent folder is not writable)
        self.names: list[str] = []
        self.removed: list[str] = []
        self.committed = False

    def __enter__(self) -> OutputSet:
        try:
            self.target.mkdir(parents=True, exist_ok=True)
            self.target = self.target.resolve()
            if not os.access(self.target, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        except OSError as exc:
            raise OutputError(_describe_os_error(self.target, exc), file=self.target) from None
        prefix = f".{self.target.name}{STAGING_PREFIX}"
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=prefix, dir=self.target.parent))
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise OutputError(_describe_os_error(self.target, exc), file=self.target) from None
            try:  # the parent is not ours: stage inside the target, move file by file
                self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.target))
            except OSError as inner:
                raise OutputError(
                    _describe_os_error(self.target, inner), file=self.target
                ) from None
            self.in_place = True
        return self

    def path(self, name: str) -> Path:
        assert self.staging is not None, "OutputSet used outside its with-block"
        if name not in self.names:
            self.names.append(name)
        return self.staging / name

    def _others(self) -> list[Path]:
        """Entries of the target to carry into the new folder."""
        written = set(self.names)
        previous = set() if self.keep_others else _previous_outputs(self.target)
        keep = []
        for entry in sorted(self.target.iterdir()):
            name = entry.name
            if name in written or name == LOCK_NAME or name.startswith(STAGING_PREFIX):
                continue
            if name in previous:
                self.removed.append(name)
                continue
            keep.append(entry)
        return keep

    def commit(self) -> list[Path]:
        assert self.staging is not None
        self.names = [n for n in self.names if (self.staging / n).exists()]
        try:
            _pause("staged")
            if self.in_place:
                self._commit_in_place()
            else:
                self._commit_by_swap()
        except OSError as exc:
            self.rollback()
            raise OutputError(_describe_commit_error(self.target, exc), file=self.target) from None
        except BaseException:
            self.rollback()  # a no-op once the new folder is in place
            raise
        return [self.target / n for n in self.names]

    def _commit_by_swap(self) -> None:
        assert self.staging is not None
        for entry in self._others():
            _link_into(entry, self.staging / entry.name)
        _same_mode_and_owner(self.target, self.staging)
        _pause("carried")
        old = self.staging
        with defer_signals(_interrupted):
            if not _exchange(self.target, self.staging):
                _swap_by_two_renames(self.target, self.staging)
            self.committed = True
            _committed.append(self.target)
            self.staging = None
        try:
            _pause("swapped")
        finally:
            shutil.rmtree(old, ignore_errors=True)
        _pause("done")

    def _commit_in_place(self) -> None:
        """Move the files one by one (the target's parent is not writable)."""
        assert self.staging is not None
        aside = self.staging / STAGING_PREFIX.strip(".-")
        aside.mkdir()
        replaced = [n for n in self.names if (self.target / n).exists()]
        self._others()  # fills self.removed; files that are not segtool's stay in place
        moved_aside: list[str] = []
        moved_in: list[str] = []
        with defer_signals(_interrupted):
            _pause("carried")
            try:
                for name in [*replaced, *self.removed]:
                    os.rename(self.target / name, aside / name)
                    moved_aside.append(name)
                for name in self.names:
                    os.rename(self.staging / name, self.target / name)
                    moved_in.append(name)
            except OSError:
                for name in moved_in:
                    with contextlib.suppress(OSError):
                        os.rename(self.target / name, self.staging / name)
                for name in moved_aside:
                    with contextlib.suppress(OSError):
                        os.rename(aside / name, self.target / name)
                raise
            self.committed = True
            _committed.append(self.target)
        self.rollback()
        _pause("done")

    def rollback(self) -> None:
        if self.staging is not None and self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
        self.staging = None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.commit()
            return
        if self.committed:  # interrupted after the swap: the new folder is in place
            return
        self.rollback()
        if isinstance(exc, SegtoolError) or exc is None:
            return
        os_error = _os_error_in(exc)
        if os_error is not None:  # disk full, quota, I/O error inside a writer
            _release_writers(exc)
            raise OutputError(_describe_os_error(self.target, os_error), file=self.target) from None


def _same_mode_and_owner(model: Path, folder: Path) -> None:
    """The new folder takes the old one's permissions (and owner, when run as root)."""
    info = model.stat()
    os.chmod(folder, info.st_mode & 0o7777)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.chown(folder, info.st_uid, info.st_gid)


def _describe_commit_error(target: Path, exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return (
        f"{target}: the new outputs could not replace the old ones ({what}); "
        "previous outputs were left as they were; close the files or choose another "
        "--out folder"
    )


def _swap_by_two_renames(target: Path, staging: Path) -> None:
    """Target aside, staging in: where one exchange is not possible. The old folder goes
    to ``<staging>.old`` so :func:`_recover` can put it back after a kill between the two."""
    aside = staging.with_name(staging.name + ".old")
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(aside, target)
        raise
    os.rename(aside, staging)


def _recover(folder: Path) -> None:
    """A run killed between the two renames of :func:`_swap_by_two_renames` left no folder:
    put the old one back."""
    if folder.exists() or folder.is_symlink():
        return
    parent = folder.parent
    with contextlib.suppress(OSError):
        for aside in sorted(parent.glob(f".{folder.name}{STAGING_PREFIX}*.old")):
            os.rename(aside, folder)
            return


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
    """Staging folders (beside or inside ``folder``) and the lock file of earlier versions,
    left by a run that was killed: with the lock held no other run can be using them."""
    candidates = [
        *folder.parent.glob(f".{folder.name}{STAGING_PREFIX}*"),
        *folder.glob(f"{STAGING_PREFIX}*"),
    ]
    for stale in candidates:
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    lock = folder / LOCK_NAME
    if lock.is_file() and not lock.is_symlink():  # earlier versions locked this file
        _silent_unlink(lock)


class FolderLock:
    """An exclusive lock on a folder, held while a step or run writes into it.

    ``flock`` on the folder itself (opened read-only, never following a symlink at the last
    step): no lock file is written, nothing a planted symlink could redirect, and the
    kernel drops the lock when the process dies, so a killed run never leaves a stale lock.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        import fcntl

        try:
            if self.folder.exists() or self.folder.is_symlink():
                self.folder = self.folder.resolve()
            _recover(self.folder)
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            raise OutputError(_describe_os_error(self.folder, exc), file=self.folder) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"{self.folder}: locked by another segtool run; try again when it has finished",
                file=self.folder,
            ) from None
        self._fd = fd
        _remove_stale_staging(self.folder)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
