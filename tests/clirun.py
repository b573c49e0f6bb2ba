"""Run segtool's real entry point in process and check its one-line errors (test helper)."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith("error:")]


def segtool_cmd(*args: object) -> list[str]:
    """argv that runs segtool's real entry point in a child process (``python -m segtool``),
    for the tests that signal, limit or time a run from outside."""
    return [sys.executable, "-m", "segtool", *map(str, args)]


def cli(capsys, *args) -> Result:
    """Run ``segtool ARGS`` in process, as the console script does."""
    from segtool.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    argv = sys.argv
    sys.argv = ["segtool", *map(str, args)]
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def assert_one_error(result: Result, code: int, *needles: str) -> str:
    """Exit ``code``, no traceback, exactly one ``error:`` line naming every needle."""
    assert "Traceback" not in result.err and "Exception ignored" not in result.err, result.err
    assert "internal error" not in result.err, result.err
    assert result.code == code, result.err
    assert len(result.error_lines) == 1, result.err
    line = result.error_lines[0]
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def unprivileged_prefix() -> list[str]:
    """Command prefix that runs a process as ``nobody`` when the tests run as root (root
    ignores file modes, so permission tests need another user); [] when not root. Skips
    the test when that user cannot be switched to or cannot import this environment
    (e.g. a virtualenv inside a private 0700 folder)."""
    import os
    import shutil
    import subprocess

    import pytest

    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(
        [*user, sys.executable, "-c", "import segtool.cli"], capture_output=True, cwd="/"
    )
    if probe.returncode != 0:
        pytest.skip("the unprivileged user cannot read this Python environment")
    return user
