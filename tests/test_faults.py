"""Faults around a run: full disk, unwritable folders, read-only or changing inputs, a run
killed with SIGKILL. Each is one ``error:`` line with exit 3 (or a clean success), and the
previous outputs stay exactly as they were.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from clirun import (  # noqa: F401 - shared CLI test helpers
    Result,
    assert_one_error,
    cli,
    segtool_cmd,
    unprivileged_prefix,
)

from segtool.errors import EXIT_INPUT, EXIT_OK

ORDERS = """ИНН;Контрагент;Номер заказа;Дата;Сумма
0001;ООО Первый;A1;05.09.2026;1000
0001;ООО Первый;A2;05.10.2026;1200
0002;ООО Второй;B1;15.11.2025;2000
0003;Завод Третий;C1;10.01.2026;500
0003;Завод Третий;C2;10.03.2026;500
"""
CONTACTS = """ИНН;Компания;ФИО;Должность;Телефон;Email
0001;ООО Первый;Иванов Иван;Директор;+7 900 000-00-01;ivanov@first.example
0002;ООО Второй;Петров Пётр;Менеджер по закупкам;+7 900 000-00-02;petrov@second.example
"""


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (folder / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
    config = folder / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n",
        encoding="utf-8",
    )
    return config


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != ".segtool.lock"
    }


def leftovers(folder: Path) -> list[str]:
    """Staging folders and temp files, inside the folder or beside it."""
    inside = [
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".segtool-tmp-") or p.name.endswith(".tmp")
    ]
    beside = [p.name for p in folder.parent.glob(f".{folder.name}.segtool-tmp-*")]
    return sorted(inside + beside)


@pytest.fixture
def first_run(tmp_path, capsys):
    config = make_project(tmp_path / "project")
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-10-31")
    assert result.code == EXIT_OK, result.err
    assert (out / "segments.xlsx").exists() and (out / "manifest.json").exists()
    return config, out


def _enospc_in_staging(monkeypatch, after: int = 0):
    """Files written into a staging folder (Path.write_bytes, or Path.open for writing)
    fail with ENOSPC after ``after`` files."""
    real_write, real_open = Path.write_bytes, Path.open
    calls = {"n": 0}

    def full(self) -> bool:
        if ".segtool-tmp-" not in str(self):
            return False
        calls["n"] += 1
        return calls["n"] > after

    def write_bytes(self, data):
        if full(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, data)

    def open_(self, mode="r", *args, **kwargs):
        if "w" in mode and full(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    monkeypatch.setattr(Path, "open", open_)


# -- disk full ----------------------------------------------------------------------------
@pytest.mark.parametrize("after", [0, 2])
def test_disk_full_while_writing_csv_keeps_previous_outputs(first_run, capsys, monkeypatch, after):
    config, out = first_run
    before = snapshot(out)
    _enospc_in_staging(monkeypatch, after)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert_one_error(result, EXIT_INPUT, "disk full", str(out))
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_disk_full_inside_the_xlsx_writer(first_run, capsys, monkeypatch):
    import zipfile

    config, out = first_run
    before = snapshot(out)

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full)
    monkeypatch.setattr(zipfile.ZipFile, "write", full)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert_one_error(result, EXIT_INPUT, "disk full")
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_disk_full_while_saving_the_workspace(tmp_path, capsys, monkeypatch):
    config = make_project(tmp_path / "project")
    ws = tmp_path / "ws"
    assert cli(capsys, "ingest", "--config", config, "--workspace", ws).code == EXIT_OK
    before = snapshot(ws)
    _enospc_in_staging(monkeypatch)
    result = cli(capsys, "ingest", "--config", config, "--workspace", ws)
    assert_one_error(result, EXIT_INPUT, "disk full")
    assert snapshot(ws) == before
    assert leftovers(ws) == []


def _tiny_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def _fill(path: Path, leave: int) -> None:
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    with open(path / "filler", "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(free - leave, 1))


def test_real_full_disk_on_a_tiny_tmpfs(tmp_path):
    """A real ENOSPC (xlsxwriter, polars parquet and plain writes), when tmpfs can be mounted."""
    mount = tmp_path / "tiny"
    if not _tiny_tmpfs(mount, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        config = make_project(tmp_path / "project")
        out, ws = mount / "out", mount / "ws"
        env = {**os.environ, "NO_COLOR": "1"}

        def run(*args):
            return subprocess.run(
                [sys.executable, "-m", "segtool", *map(str, args)],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )

        assert run("run", "--config", config, "--out", out).returncode == EXIT_OK
        assert run("ingest", "--config", config, "--workspace", ws).returncode == EXIT_OK
        before_out, before_ws = snapshot(out), snapshot(ws)
        _fill(mount, leave=8192)
        for result, folder, before in (
            (run("run", "--config", config, "--out", out), out, before_out),
            (run("ingest", "--config", config, "--workspace", ws), ws, before_ws),
        ):
            assert_one_error(
                Result(result.returncode, result.stdout, result.stderr), EXIT_INPUT, "disk full"
            )
            assert snapshot(folder) == before
            assert leftovers(folder) == []
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


# -- unwritable output --------------------------------------------------------------------
@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS], ids=["denied", "read-only fs"])
def test_unwritable_output_folder(first_run, capsys, monkeypatch, code):
    from segtool.io import atomic

    config, out = first_run
    before = snapshot(out)

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)
    result = cli(capsys, "run", "--config", config, "--out", out)
    assert_one_error(result, EXIT_INPUT, str(out), "not writable")
    assert snapshot(out) == before


def test_output_folder_is_a_file(tmp_path, capsys):
    config = make_project(tmp_path / "project")
    blocker = tmp_path / "out"
    blocker.write_text("keep me", encoding="utf-8")
    result = cli(capsys, "run", "--config", config, "--out", blocker)
    assert_one_error(result, EXIT_INPUT, "out")
    assert blocker.read_text(encoding="utf-8") == "keep me"


# -- inputs -------------------------------------------------------------------------------
def test_read_only_inputs_are_never_written(tmp_path):
    """Inputs in a read-only folder (run as nobody when we are root, so modes apply)."""
    user = unprivileged_prefix()
    base = Path(tempfile.mkdtemp(prefix="segtool-faults-"))
    try:
        base.chmod(0o755)
        project = base / "project"
        config = make_project(project)
        for path in project.iterdir():
            path.chmod(0o444)
        project.chmod(0o555)
        before = snapshot(project)
        out = base / "out"
        out.mkdir()
        out.chmod(0o777)
        done = subprocess.run(
            [
                *user,
                sys.executable,
                "-m",
                "segtool",
                "run",
                "--config",
                str(config),
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NO_COLOR": "1", "HOME": str(base)},
        )
        assert done.returncode == EXIT_OK, done.stderr
        assert snapshot(project) == before
        assert sorted(p.name for p in project.iterdir()) == [
            "contacts.csv",
            "orders.csv",
            "segtool.yaml",
        ]
        # the step commands' workspace cannot go beside a read-only config: one clear line
        if user:
            step = subprocess.run(
                [
                    *user,
                    sys.executable,
                    "-m",
                    "segtool",
                    "ingest",
                    "--config",
                    str(config),
                    "--workspace",
                    str(project / ".segtool"),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "NO_COLOR": "1", "HOME": str(base)},
            )
            assert_one_error(
                Result(step.returncode, step.stdout, step.stderr), EXIT_INPUT, "not writable"
            )
    finally:
        for path in (base / "project",):
            if path.exists():
                path.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_input_changing_while_read(tmp_path, capsys, monkeypatch):
    from segtool.steps import ingest as step

    config = make_project(tmp_path / "project")
    orders = tmp_path / "project" / "orders.csv"
    real = step._run_plan

    def still_being_written(raw, fmt, cfg, kind, **options):
        if raw.path == orders:
            with open(orders, "a", encoding="utf-8") as handle:
                handle.write("0004;ООО Четвёртый;D1;01.10.2026;700\n")
        return real(raw, fmt, cfg, kind, **options)

    monkeypatch.setattr(step, "_run_plan", still_being_written)
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert_one_error(result, EXIT_INPUT, "orders.csv", "changed while it was being read")
    assert not (tmp_path / "out" / "segments.csv").exists()


def test_input_truncated_while_read(tmp_path, capsys, monkeypatch):
    from segtool.steps import ingest as step

    config = make_project(tmp_path / "project")
    orders = tmp_path / "project" / "orders.csv"
    real = step._read_file

    def read_then_cut(path, *args, **kwargs):
        # parsed whole, then cut while its checksum may still be running
        result = real(path, *args, **kwargs)
        if Path(path) == orders:
            orders.write_text(ORDERS.splitlines()[0] + "\n", encoding="utf-8")
        return result

    monkeypatch.setattr(step, "_read_file", read_then_cut)
    result = cli(capsys, "ingest", "--config", config, "--workspace", tmp_path / "ws")
    assert_one_error(result, EXIT_INPUT, "orders.csv", "changed while it was being read")


def test_input_deleted_before_it_is_read(tmp_path, capsys, monkeypatch):
    from segtool.steps import ingest as step

    config = make_project(tmp_path / "project")
    real = step.expand_paths

    def then_gone(cfg, pattern, key):
        paths = real(cfg, pattern, key)
        for path in paths:
            path.unlink()
        return paths

    monkeypatch.setattr(step, "expand_paths", then_gone)
    result = cli(capsys, "ingest", "--config", config, "--workspace", tmp_path / "ws")
    # caught when ingest first looks at the files (CSV or workbook), before any is parsed
    assert_one_error(result, EXIT_INPUT, "orders.csv", "file not found")


# -- killed -------------------------------------------------------------------------------
def test_killed_run_keeps_previous_outputs_and_the_next_run_cleans_up(first_run):
    config, out = first_run
    before = snapshot(out)
    proc = subprocess.Popen(
        segtool_cmd("run", "--config", str(config), "--out", str(out), "--as-of", "2026-11-30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "SEGTOOL_TEST_SLOW_EXPORT": "60"},
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.parent.glob(f".{out.name}.segtool-tmp-*/manifest.json")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the run never reached the export"
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert snapshot(out) == before
    assert leftovers(out) != []  # what SIGKILL leaves behind...
    done = subprocess.run(
        segtool_cmd("run", "--config", str(config), "--out", str(out), "--as-of", "2026-11-30"),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == EXIT_OK, done.stderr  # the lock died with the process
    assert leftovers(out) == []  # ...is cleared by the next run holding the lock
    assert snapshot(out) != before
