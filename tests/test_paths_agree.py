"""`segtool run` and the step commands run one by one give the same outputs, manifest
and warnings (both through the real entry point, in process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.clirun import cli

REPO = Path(__file__).resolve().parents[1]
COMMON = ("--format", "csv", "--no-history")
AS_OF = ("--as-of", "2026-10-30")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("orders.csv", "contacts.xlsx"):
        shutil.copy(REPO / "sample_data" / name, tmp_path / name)
    (tmp_path / "segtool.yaml").write_text(
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    return tmp_path


def _warnings(err: str) -> set[str]:
    return {line for line in err.splitlines() if line.startswith("warning:")}


def _both(capsys, project: Path, as_of: tuple[str, ...]) -> tuple[Path, Path, set, set]:
    config = project / "segtool.yaml"
    run_out, step_out, ws = project / "run", project / "steps", project / "ws"
    result = cli(capsys, "run", "--config", config, "--out", run_out, *as_of, *COMMON)
    assert result.code == 0, result.err
    run_warnings = _warnings(result.err)
    step_warnings: set[str] = set()
    for args in (
        ("ingest",),
        ("score", *as_of),
        ("classify",),
        ("assign-tactics",),
        ("export", "--out", step_out, *COMMON),
    ):
        result = cli(capsys, args[0], "--config", config, "--workspace", ws, *args[1:])
        assert result.code == 0, (args, result.err)
        step_warnings |= _warnings(result.err)
    return run_out, step_out, run_warnings, step_warnings


def _manifest(folder: Path) -> dict:
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    data.pop("created")
    data.pop("timings")
    return data


@pytest.mark.parametrize("as_of", [AS_OF, ("--as-of", "today")], ids=["date", "today"])
def test_run_and_step_commands_agree(capsys, project, as_of):
    run_out, step_out, run_warnings, step_warnings = _both(capsys, project, as_of)
    names = sorted(p.name for p in run_out.iterdir())
    assert names == sorted(p.name for p in step_out.iterdir())
    assert "segments.csv" in names and "call_tasks.csv" in names
    for name in names:
        if name.endswith(".csv"):
            assert (run_out / name).read_bytes() == (step_out / name).read_bytes(), name
    run_manifest, step_manifest = _manifest(run_out), _manifest(step_out)
    assert run_manifest == step_manifest
    # the keys the two paths used to disagree on are there, and right
    assert run_manifest["as_of_source"] == ("today" if as_of[1] == "today" else "--as-of")
    assert sum(run_manifest["customers_per_segment"].values()) == 302
    assert run_manifest["reject_rate"] == round(8 / 21_491, 6)
    assert run_manifest["max_reject_rate"] == 0.05
    assert run_manifest["task_period"] == "month"
    # every warning a step command prints, run prints too (and no other)
    assert run_warnings == step_warnings
    assert any("could not be routed to any contact" in w for w in run_warnings)


def test_run_prints_the_step_lines(capsys, project):
    config = project / "segtool.yaml"
    result = cli(capsys, "run", "--config", config, "--out", project / "o", *AS_OF, *COMMON)
    assert result.code == 0, result.err
    assert "red flags: revenue_drop" in result.err
    assert "left out by tasks.max_per_customer (3)" in result.err
    assert "customers matched by the playbook" in result.err
    assert "rows not used (duplicate: 4" in result.err


def _normalized(folder: Path, root: Path) -> dict:
    """The manifest without what differs by nature between two histories: when and how
    long, the history file's name and its random run token, and the folders' own paths."""
    data = _manifest(folder)
    history = data.get("history", {})
    for key in ("path", "run_token", "seconds"):
        history.pop(key, None)
    text = json.dumps(data, ensure_ascii=False).replace(str(root), "ROOT")
    return json.loads(text)


def test_run_and_step_commands_agree_with_history_holdout_and_migration(capsys, project):
    # two months with the history on and a control group: the second month reads the
    # first back (migration), measures the first month's tactics (effectiveness) and
    # writes the arms (holdout.csv); both ways must write the same
    config = project / "segtool.yaml"
    config.write_text(
        config.read_text(encoding="utf-8") + "experiments: {holdout: 0.2}\n", encoding="utf-8"
    )
    run_root, step_root = project / "run", project / "steps"
    for month, as_of in (("2026-08", "2026-08-31"), ("2026-10", "2026-10-30")):
        result = cli(
            capsys, "run", "--config", config, "--out", run_root / month, "--as-of", as_of,
            "--history", project / "run.db", "--format", "csv",
        )  # fmt: skip
        assert result.code == 0, result.err
        run_warnings = _warnings(result.err)
        ws = project / "ws"
        step_warnings: set[str] = set()
        for args in (
            ("ingest",),
            ("score", "--as-of", as_of),
            ("classify",),
            ("assign-tactics",),
            ("export", "--out", step_root / month, "--format", "csv",
             "--history", project / "steps.db"),
        ):  # fmt: skip
            result = cli(capsys, args[0], "--config", config, "--workspace", ws, *args[1:])
            assert result.code == 0, (args, result.err)
            step_warnings |= _warnings(result.err)
        run_out, step_out = run_root / month, step_root / month
        names = sorted(p.name for p in run_out.iterdir())
        assert names == sorted(p.name for p in step_out.iterdir())
        assert "holdout.csv" in names
        for name in names:
            if name.endswith(".csv"):
                assert (run_out / name).read_bytes() == (step_out / name).read_bytes(), name
        assert _normalized(run_out, run_root) == _normalized(step_out, step_root)
        assert {w.replace(str(run_root), "ROOT") for w in run_warnings} == {
            w.replace(str(step_root), "ROOT") for w in step_warnings
        }
    assert "migration.csv" in names
    manifest = _normalized(run_out, run_root)
    assert manifest["migration"]["previous"] == "ROOT/2026-08"
    assert manifest["effectiveness"]["runs_measured"], manifest["effectiveness"]
