"""`segtool run` never leaves a half-written output folder.

- a run interrupted mid-export (SIGTERM / SIGINT) leaves the previous outputs as they were
  and no staging or temp files (``SEGTOOL_TEST_SLOW_EXPORT`` holds the run after every
  output is staged, before anything is moved into place);
- a second run on the same output folder exits 75 with a message containing "locked";
- an unwritable output folder is one line on stderr, exit 3, previous outputs intact;
- a failure while writing (disk full) leaves the previous outputs intact.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from clirun import segtool_cmd, unprivileged_prefix
from typer.testing import CliRunner

from segtool.cli import app
from segtool.errors import EXIT_INPUT, EXIT_LOCKED, OutputError

ORDERS = """customer_id,company_name,order_id,order_date,amount
0001,ООО Первый,A1,2026-09-05,1000
0001,ООО Первый,A2,2026-10-05,1200
0002,ООО Второй,B1,2025-11-15,2000
0003,Завод Третий,C1,2026-01-10,500
0003,Завод Третий,C2,2026-03-10,500
0003,Завод Третий,C3,2026-05-10,500
0003,Завод Третий,C4,2026-07-10,500
0003,Завод Третий,C5,2026-09-10,500
"""
CONTACTS = """customer_id,company_name,contact_name,job_title,phone,email
0001,ООО Первый,Иванов Иван,Директор,+7 900 000-00-01,ivanov@first.example
0002,ООО Второй,Петров Пётр,Менеджер по закупкам,+7 900 000-00-02,petrov@second.example
0003,Завод Третий,Сидорова Анна,Главный инженер,+7 900 000-00-03,sidorova@third.example
"""


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (folder / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    config = folder / "segtool.yaml"
    config.write_text(
        "language: ru\ninputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n",
        encoding="utf-8",
    )
    return config


def _cmd(config: Path, out: Path, *extra: str) -> list[str]:
    return segtool_cmd("run", "--config", str(config), "--out", str(out), *extra)


def _run(config: Path, out: Path, *extra: str, env: dict | None = None, user: list | None = None):
    return subprocess.run(
        [*(user or []), *_cmd(config, out, *extra)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != ".segtool.lock"
    }


def _leftovers(folder: Path) -> list[str]:
    """Staging folders and temp files, inside the folder or beside it."""
    inside = [
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".segtool-tmp-") or p.name.endswith(".tmp")
    ]
    beside = [p.name for p in folder.parent.glob(f".{folder.name}.segtool-tmp-*")]
    return sorted(inside + beside)


def _wait_for_staged(out: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the run has staged its manifest (the last output) and sleeps in the hook."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(out.parent.glob(f".{out.name}.segtool-tmp-*/manifest.json")):
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.returncode} {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("the run never reached the export")


def _run_in_process(config: Path, out: Path, *extra: str) -> None:
    """A first, successful run (in process: quicker than a subprocess)."""
    result = CliRunner().invoke(
        app, ["run", "--config", str(config), "--out", str(out), *extra], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (out / "segments.csv").exists() and (out / "manifest.json").exists()


@pytest.fixture
def first_run(tmp_path):
    config = _project(tmp_path / "project")
    out = tmp_path / "out"
    _run_in_process(config, out, "--as-of", "2026-10-31")
    return config, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_keeps_previous_outputs(first_run, signum):
    config, out = first_run
    before = _snapshot(out)
    proc = subprocess.Popen(
        _cmd(config, out, "--as-of", "2026-11-30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "SEGTOOL_TEST_SLOW_EXPORT": "60"},
    )
    try:
        _wait_for_staged(out, proc)
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum
    assert "interrupted" in stderr
    assert _snapshot(out) == before  # same bytes, not even touched
    assert _leftovers(out) == []


def test_second_run_on_the_same_folder_is_locked(first_run):
    config, out = first_run
    proc = subprocess.Popen(
        _cmd(config, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "SEGTOOL_TEST_SLOW_EXPORT": "60"},
    )
    try:
        _wait_for_staged(out, proc)
        second = _run(config, out)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert second.returncode == EXIT_LOCKED
    assert "locked" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert _leftovers(out) == []


def test_output_path_under_a_file(tmp_path):
    config = _project(tmp_path / "project")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = _run(config, blocker / "out")
    assert result.returncode == EXIT_INPUT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert blocker.read_text() == "x"


def test_unwritable_output_folder_keeps_previous_outputs():
    # root ignores file modes: run the second segtool as nobody when we are root
    user = unprivileged_prefix()
    base = Path(tempfile.mkdtemp(prefix="segtool-safety-"))
    try:
        base.chmod(0o755)
        config = _project(base / "project")
        for p in (base / "project", *(base / "project").iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)
        out = base / "out"
        # the contact history is left out: this test is about the output folder (an unwritable
        # history is its own one-line error, tests/history/test_store.py)
        _run_in_process(config, out, "--as-of", "2026-10-31", "--no-history")
        before = _snapshot(out)
        out.chmod(0o555)
        assert not (out / ".segtool.lock").exists()  # the folder itself is locked
        result = _run(
            config, out, "--as-of", "2026-11-30", "--no-history", user=user, env={"HOME": str(base)}
        )
        assert result.returncode == EXIT_INPUT, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not writable" in lines[0], result.stderr
        out.chmod(0o755)
        assert _snapshot(out) == before
        assert _leftovers(out) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_failure_while_writing_keeps_previous_outputs(first_run, monkeypatch):
    """A disk-full error in the middle of the export (in process)."""
    from segtool.commands import load
    from segtool.pipeline import run_pipeline
    from segtool.steps import export

    config, out = first_run
    before = _snapshot(out)
    real = export.write_outputs

    def half_then_disk_full(outset, **kwargs):
        real(outset, **kwargs)
        raise OutputError(f"{out}: disk full while writing outputs", code="E-OUTPUT") from (
            OSError(errno.ENOSPC, "No space left on device")
        )

    monkeypatch.setattr(export, "write_outputs", half_then_disk_full)
    cfg = load(config)
    with pytest.raises(OutputError, match="disk full"):
        run_pipeline(cfg, out=out, as_of=None, previous=None, formats={"xlsx", "csv"})
    assert _snapshot(out) == before
    assert _leftovers(out) == []
