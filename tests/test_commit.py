"""One commit for all outputs (docs/reliability.md, "Faults"): a run interrupted at any
stage of the commit leaves ``--out`` wholly old or wholly new, the manifest lists exactly the
outputs in the folder, and the last stderr line says which it is.

``SEGTOOL_TEST_PAUSE_AT=<stage>`` holds the run at each stage of the commit (see
:mod:`segtool.io.atomic`); the tests send SIGTERM or SIGKILL there.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from clirun import assert_one_error, cli, segtool_cmd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_faults import leftovers, make_project

from segtool.errors import EXIT_INPUT, EXIT_OK, EXIT_USAGE
from segtool.io import atomic

NOTES = "notes.txt"  # a file of the analyst's own: kept through every commit


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def manifest_matches_folder(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    visible = {p.name for p in out.iterdir()} - {NOTES}
    assert visible == set(manifest["outputs"]), (visible, manifest["outputs"])
    return manifest


@pytest.fixture
def october(tmp_path, capsys):
    """Last month's outputs (xlsx and csv) and a note the analyst keeps in the folder."""
    config = make_project(tmp_path / "project")
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-10-31")
    assert result.code == EXIT_OK, result.err
    (out / NOTES).write_text("called Иванов on 3.11", encoding="utf-8")
    return config, out


def _wait_for_pause(proc: subprocess.Popen, stage: str, timeout: float = 60) -> list[str]:
    """stderr lines up to the hook's line (the run is then asleep at ``stage``)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"run ended before {stage}: {proc.wait()} {''.join(seen)}")
        seen.append(line)
        if line.strip() == f"segtool-test: paused at {stage}":
            return seen
    raise AssertionError(f"never paused at {stage}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
@pytest.mark.parametrize("stage", atomic.STAGES)
def test_signal_at_every_stage_of_the_commit(october, stage, signum):
    config, out = october
    before = files(out)
    proc = subprocess.Popen(
        segtool_cmd(
            "run",
            "--config",
            str(config),
            "--out",
            str(out),
            "--as-of",
            "2026-11-30",
            "--format",
            "csv",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", atomic.PAUSE_ENV: stage},
    )
    try:
        _wait_for_pause(proc, stage)
        proc.send_signal(signum)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    swapped = atomic.STAGES.index(stage) >= atomic.STAGES.index("swapped")
    after = files(out)
    manifest = manifest_matches_folder(out)
    assert after[NOTES] == before[NOTES]
    if swapped:  # wholly new: November's CSV files only, October's workbooks gone
        assert manifest["as_of"] == "2026-11-30"
        assert not any(name.endswith(".xlsx") for name in after)
    else:  # wholly old: every byte as it was
        assert after == before
        assert manifest["as_of"] == "2026-10-31"
    if signum == signal.SIGTERM:
        assert proc.returncode == 128 + signum
        last = rest.strip().splitlines()[-1]
        if swapped:
            assert last == (
                f"error: interrupted after the new files were complete in {out}; "
                "other outputs were left as they were"
            )
        else:
            assert last == "error: interrupted; outputs were left as they were"
            assert leftovers(out) == []
    else:
        assert proc.returncode == -signal.SIGKILL
    with atomic.FolderLock(out):  # the next run to lock the folder clears what was left
        pass
    assert leftovers(out) == []
    assert files(out) == after


def test_folders_that_cannot_be_swapped_leave_the_old_outputs(october, capsys, monkeypatch):
    """An immutable or busy folder: the one swap fails, nothing of November appears."""
    config, out = october
    before = files(out)

    def refuse(a, b):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(a))

    monkeypatch.setattr(atomic, "_exchange", refuse)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert_one_error(
        result, EXIT_INPUT, str(out), "could not replace", "previous outputs were left as they were"
    )
    assert files(out) == before
    assert leftovers(out) == []


def _parent_not_writable(monkeypatch, out: Path) -> None:
    real = atomic.tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        if Path(kwargs["dir"]) == out.parent:
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real(*args, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", mkdtemp)


def test_a_workbook_that_cannot_be_replaced_in_place_leaves_the_folder_wholly_old(
    october, capsys, monkeypatch
):
    """The folder holding --out is not writable, so files move one by one; one of them
    cannot be replaced (immutable): every file already moved goes back."""
    config, out = october
    before = files(out)
    _parent_not_writable(monkeypatch, out)
    real_rename = os.rename

    def rename(src, dst, *args, **kwargs):  # an immutable file cannot be moved
        if Path(src) == out / "segments.xlsx":
            raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(dst))
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "rename", rename)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert_one_error(result, EXIT_INPUT, "could not replace", "left as they were")
    assert files(out) == before
    assert leftovers(out) == []


def test_in_place_commit_when_the_parent_is_not_writable(october, capsys, monkeypatch):
    config, out = october
    _parent_not_writable(monkeypatch, out)
    result = cli(
        capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30", "--format", "csv"
    )
    assert result.code == EXIT_OK, result.err
    manifest = manifest_matches_folder(out)
    assert manifest["as_of"] == "2026-11-30"
    assert (out / NOTES).exists() and leftovers(out) == []


def test_two_renames_where_one_exchange_is_not_possible(october, capsys, monkeypatch):
    config, out = october
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert result.code == EXIT_OK, result.err
    assert manifest_matches_folder(out)["as_of"] == "2026-11-30"
    assert leftovers(out) == []


def test_a_kill_between_the_two_renames_is_undone_by_the_next_lock(october):
    _, out = october
    before = files(out)
    aside = out.parent / f".{out.name}{atomic.STAGING_PREFIX}x1.old"
    os.rename(out, aside)  # what a kill after the first rename leaves
    with atomic.FolderLock(out):
        pass
    assert files(out) == before and leftovers(out) == []


def test_files_of_an_earlier_run_are_removed_with_a_notice(october, capsys, tmp_path):
    config, out = october
    previous = tmp_path / "september"
    assert (
        cli(capsys, "run", "--config", config, "--out", previous, "--as-of", "2026-09-30").code
        == EXIT_OK
    )
    with_migration = cli(
        capsys,
        "run",
        "--config",
        config,
        "--out",
        out,
        "--as-of",
        "2026-10-31",
        "--previous",
        previous,
    )
    assert with_migration.code == EXIT_OK, with_migration.err
    assert (out / "migration.xlsx").exists() and (out / "migration.csv").exists()
    # without --previous and without the history (which would compare with the last run and
    # report on its tasks), no migration or effectiveness report is written this time
    result = cli(
        capsys,
        "run",
        "--config",
        config,
        "--out",
        out,
        "--as-of",
        "2026-11-30",
        "--format",
        "csv",
        "--no-history",
    )
    assert result.code == EXIT_OK, result.err
    notice = [ln for ln in result.err.splitlines() if "removed from" in ln]
    assert notice == [
        f"warning: removed from {out} the files of the previous run that this "
        "run does not write: call_tasks.xlsx, effectiveness.csv, effectiveness.xlsx, "
        "effectiveness_breakdown.csv, mail_tasks.xlsx, migration.csv, migration.xlsx, "
        "segments.xlsx"
    ]
    manifest_matches_folder(out)
    assert (out / NOTES).read_text(encoding="utf-8") == "called Иванов on 3.11"


def test_a_planted_lock_symlink_is_never_followed(october, capsys, tmp_path):
    config, out = october
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (out / atomic.LOCK_NAME).symlink_to(victim)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert result.code == EXIT_OK, result.err
    assert victim.read_text(encoding="utf-8") == "keep me"
    # the name of the old lock file is segtool's: not carried into the new folder
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_no_lock_file_is_left_in_the_output_folder(october):
    _, out = october
    assert not any(p.name.startswith(".") for p in out.iterdir())


def test_a_transcoded_copy_of_an_export_has_no_name_in_tmpdir(tmp_path, monkeypatch):
    from segtool.io import readers

    monkeypatch.setattr(readers.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    source = tmp_path / "orders.csv"
    source.write_bytes("ИНН;Сумма\n0001;100\n".encode("cp1251"))
    copy = readers._transcode(source, "cp1251")
    assert list((tmp_path / "tmp").iterdir()) == []  # a SIGKILL now leaves nothing behind
    assert copy.read_text(encoding="utf-8") == "ИНН;Сумма\n0001;100\n"
    table = readers.RawTable(source, source.name, "orders", None, [], temp_files=[copy])
    table.cleanup()
    assert not copy.exists()


@pytest.mark.parametrize("pattern", ["exports/*.csv", "exports/*", "*/call_tasks.csv"])
def test_out_inside_an_input_glob_is_refused(tmp_path, capsys, pattern):
    exports = tmp_path / "exports"
    make_project(exports)
    config = tmp_path / "segtool.yaml"
    config.write_text(f"inputs:\n  orders: {{path: '{pattern}'}}\n", encoding="utf-8")
    before = sorted(p.name for p in exports.iterdir())
    result = cli(capsys, "run", "--config", config, "--out", exports)
    assert_one_error(result, EXIT_USAGE, "inputs.orders.path", pattern, "--out")
    assert sorted(p.name for p in exports.iterdir()) == before


def test_out_beside_the_input_glob_is_fine(tmp_path, capsys):
    exports = tmp_path / "exports"
    make_project(exports)
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: 'exports/o*.csv'}\n", encoding="utf-8")
    result = cli(
        capsys, "run", "--config", config, "--out", exports / "out", "--as-of", "2026-11-30"
    )
    assert result.code == EXIT_OK, result.err


def test_the_new_folder_keeps_the_old_ones_mode_and_owner(october, capsys):
    config, out = october
    out.chmod(0o750)
    owner = (65534, 65534) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(out, *owner)
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-11-30")
    assert result.code == EXIT_OK, result.err
    info = out.stat()
    assert (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (0o750, *owner)
    assert manifest_matches_folder(out)["as_of"] == "2026-11-30"


def test_export_into_an_input_glob_is_refused_too(tmp_path, capsys):
    from test_faults import ORDERS

    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "orders_2026.csv").write_text(ORDERS, encoding="utf-8")
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs:\n  orders: {path: 'exports/*.csv'}\n", encoding="utf-8")
    ws = tmp_path / "ws"
    for step in ("ingest", "score", "classify", "assign-tactics"):
        assert cli(capsys, step, "--config", config, "--workspace", ws).code == EXIT_OK
    result = cli(capsys, "export", "--config", config, "--workspace", ws, "--out", exports)
    assert_one_error(result, EXIT_USAGE, "inputs.orders.path", "--out")
    assert [p.name for p in exports.iterdir()] == ["orders_2026.csv"]


# -- invariants ------------------------------------------------------------------------------

_OUTPUTS = sorted(atomic.OUTPUT_NAMES - {atomic.LOCK_NAME})
_OWN = ["notes.txt", "Архив", "plan.xlsx", "segments (copy).csv"]


@settings(max_examples=40)
@given(
    before=st.sets(st.sampled_from(_OUTPUTS)),
    own=st.sets(st.sampled_from(_OWN)),
    written=st.sets(st.sampled_from(_OUTPUTS), min_size=1),
)
def test_a_commit_leaves_exactly_the_new_outputs_and_the_analysts_files(
    tmp_path_factory, before, own, written
):
    out = tmp_path_factory.mktemp("commit") / "out"
    out.mkdir()
    for name in before:
        (out / name).write_text("old", encoding="utf-8")
    for name in own:
        if name == "Архив":
            (out / name).mkdir()
            (out / name / "2026-09.xlsx").write_text("kept", encoding="utf-8")
        else:
            (out / name).write_text("mine", encoding="utf-8")
    with atomic.OutputSet(out) as outset:
        for name in written:
            outset.path(name).write_text("new", encoding="utf-8")
    assert {p.name for p in out.iterdir()} == written | own
    assert all((out / n).read_text(encoding="utf-8") == "new" for n in written)
    assert sorted(outset.removed) == sorted(before - written)
    if "Архив" in own:
        assert (out / "Архив" / "2026-09.xlsx").read_text(encoding="utf-8") == "kept"
    assert leftovers(out) == []
