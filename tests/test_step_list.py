"""The step list says what each step writes: the step commands write exactly that."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from segtool.report import new_manifest
from segtool.step_list import PRODUCED_BY, STEPS, written_after
from tests.clirun import assert_one_error, cli

REPO = Path(__file__).resolve().parents[1]


def _files(ws: Path) -> set[str]:
    if not ws.exists():
        return set()
    return {p.name for p in ws.iterdir() if not p.name.startswith(".")}


def _keys(manifest: Path) -> set[str]:
    return set(json.loads(manifest.read_text(encoding="utf-8"))) if manifest.exists() else set()


def _file_name(name: str) -> str:
    return name if "." in name else f"{name}.parquet"


def test_each_step_command_writes_what_the_list_declares(capsys, tmp_path):
    for name in ("orders.csv", "contacts.xlsx"):
        shutil.copy(REPO / "sample_data" / name, tmp_path / name)
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    ws, out = tmp_path / "ws", tmp_path / "out"
    assert [s.name for s in STEPS] == ["ingest", "score", "classify", "assign-tactics", "export"]
    extra = {"score": ("--as-of", "2026-10-30"), "export": ("--out", out, "--no-history")}
    for step in STEPS:
        before_files, before_keys = _files(ws), _keys(ws / "manifest.json")
        for read in step.reads:
            assert (ws / _file_name(read)).exists(), (step.name, read)
        args = ("--config", config, "--workspace", ws, *extra.get(step.name, ()))
        result = cli(capsys, step.name, *args)
        assert result.code == 0, (step.name, result.err)
        written = _files(ws) - before_files - {"manifest.json"}
        assert written == {_file_name(w) for w in step.writes}, step.name
        manifest = out / "manifest.json" if step.name == "export" else ws / "manifest.json"
        # the base manifest holds as_of = null and inputs = [] until score and ingest
        added = _keys(manifest) - before_keys - set(new_manifest(None, None))
        added |= {"score": {"as_of"}, "ingest": {"inputs"}}.get(step.name, set())
        assert added == set(step.manifest), (step.name, added ^ set(step.manifest))


def test_hints_and_stale_files_come_from_the_list(capsys, tmp_path):
    assert PRODUCED_BY["segments"] == "classify" and PRODUCED_BY["assignments"] == "assign-tactics"
    assert written_after("ingest") == ("scores", "segments", "tasks", "data_quality", "assignments")
    assert written_after("export") == ()
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs: {orders: {path: orders.csv}}\n", encoding="utf-8")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "manifest.json").write_text('{"as_of": "2026-10-30"}', encoding="utf-8")
    result = cli(capsys, "assign-tactics", "--config", config, "--workspace", ws)
    assert_one_error(result, 2, "segments.parquet", "run `segtool classify --config ...` first")
