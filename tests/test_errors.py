"""Errors as data: every code raised is in the catalogue, and ``--json`` shows it."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from segtool import errors
from segtool.errors import CATALOGUE, SegtoolError
from tests.clirun import assert_one_error, cli

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "segtool"
EXIT_CONSTANTS = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_catalogue_entry_is_complete_and_uses_a_named_exit_code():
    assert len(CATALOGUE) >= 30
    for code, entry in CATALOGUE.items():
        assert entry.code == code and re.fullmatch(r"E-[A-Z]+(-[A-Z]+)*", code), code
        assert entry.exit_code in EXIT_CONSTANTS, code
        assert entry.template.strip() and entry.description.strip(), code
        # the constant that names it: E-INPUT-READ is errors.E_INPUT_READ
        assert getattr(errors, code.replace("-", "_")) == code


def test_every_error_class_has_a_catalogue_code_with_its_documented_exit():
    expected = {
        errors.SegtoolError: errors.EXIT_USAGE,
        errors.ConfigError: errors.EXIT_USAGE,
        errors.InputError: errors.EXIT_INPUT,
        errors.OutputError: errors.EXIT_INPUT,
        errors.LockedError: errors.EXIT_LOCKED,
    }
    for cls, exit_code in expected.items():
        assert cls("x").exit_code == exit_code, cls
        assert cls.code in CATALOGUE


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError, match="E-NOPE"):
        SegtoolError("x", code="E-NOPE")


def test_every_raised_code_is_a_catalogue_constant_and_no_code_is_a_literal():
    seen: set[str] = set()
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if path.name != "errors.py" and isinstance(node, ast.Constant):
                value = node.value
                assert not (isinstance(value, str) and re.fullmatch(r"E-[A-Z-]+", value)), (
                    f"{path}: literal error code {value!r}; add it to segtool/errors.py"
                )
            if isinstance(node, ast.keyword) and node.arg == "code" and path.name != "errors.py":
                assert isinstance(node.value, ast.Name), f"{path}:{node.value.lineno}"
                name = node.value.id
                if name.startswith("E_"):
                    assert getattr(errors, name) in CATALOGUE, f"{path}: {name}"
                    seen.add(name)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "exit"
                and node.args
            ):
                assert not isinstance(node.args[0], ast.Constant), (
                    f"{path}:{node.lineno}: a bare exit code; use a name from segtool.errors"
                )
    assert {"E_INPUT_READ", "E_CONFIG_KEY", "E_PLAYBOOK", "E_WORKSPACE"} <= seen


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "sample_data" / "orders.csv", tmp_path / "orders.csv")
    return tmp_path


def _json_error(result) -> dict:
    lines = [ln for ln in result.out.splitlines() if ln.strip()]
    assert len(lines) == 1, result.out
    payload = json.loads(lines[0])
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"code", "message", "file", "row", "key"}
    return payload["error"]


def test_json_config_error_names_code_file_and_key(capsys, project):
    config = project / "c.yaml"
    config.write_text("inputs: {orders: {path: orders.csv}}\nlimits: {max_reject_rate: lots}\n")
    result = cli(capsys, "run", "--config", config, "--out", project / "out", "--json")
    line = assert_one_error(result, 2, "limits.max_reject_rate", "wrong type")
    error = _json_error(result)
    assert error["code"] == "E-CONFIG-KEY"
    assert error["key"] == "limits.max_reject_rate"
    assert error["file"] == str(config)
    assert line == "error: " + error["message"]


def test_json_input_error_names_the_missing_file(capsys, project):
    config = project / "c.yaml"
    config.write_text("inputs: {orders: {path: exports/orders.csv}}\n")
    result = cli(capsys, "ingest", "--config", config, "--json")
    assert_one_error(result, 3, "file not found")
    error = _json_error(result)
    assert error["code"] == "E-INPUT-MISSING"
    assert error["file"] == str(project / "exports" / "orders.csv")
    assert error["key"] == "inputs.orders.path"
    assert error["row"] is None


def test_json_output_error_names_the_file_and_what_to_do(capsys, project):
    config = project / "c.yaml"
    config.write_text("inputs: {orders: {path: orders.csv}}\n")
    (project / "afile").write_text("not a folder")
    out = project / "afile" / "sub"
    result = cli(
        capsys, "run", "--config", config, "--out", out, "--json", "--as-of", "2026-10-30",
        "--no-history", "--format", "csv",
    )  # fmt: skip
    line = assert_one_error(result, 3, str(out), "choose another --out folder")
    error = _json_error(result)
    assert error["code"] == "E-OUTPUT" and error["file"] == str(out)
    assert line == "error: " + error["message"]


def test_without_json_a_failure_prints_nothing_on_stdout(capsys, project):
    config = project / "c.yaml"
    config.write_text("inputs: {orders: {path: exports/orders.csv}}\n")
    result = cli(capsys, "ingest", "--config", config)
    assert_one_error(result, 3, "file not found")
    assert result.out == ""


def test_docs_list_every_code():
    text = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    for code, entry in CATALOGUE.items():
        assert f"| `{code}` | {entry.exit_code} |" in text, code


def test_json_yaml_error_names_the_row(capsys, project):
    config = project / "c.yaml"
    config.write_text("inputs:\n  orders: {path: orders.csv}\nlimits: [unclosed\n")
    result = cli(capsys, "ingest", "--config", config, "--json")
    assert_one_error(result, 2, str(config))
    error = _json_error(result)
    assert error["code"] == "E-CONFIG-YAML" and error["file"] == str(config)
    assert error["row"] == 4  # the list never closes: the parser stops at the end, line 4


def test_json_playbook_error_names_the_tactic(capsys, project):
    (project / "pb.yaml").write_text(
        "tactics:\n  - {id: bad, when: {segment: [regular_sleepy]}, action: call}\n"
    )
    config = project / "c.yaml"
    config.write_text("inputs: {orders: {path: orders.csv}}\nplaybook: pb.yaml\n")
    result = cli(capsys, "run", "--config", config, "--out", project / "out", "--json")
    assert_one_error(result, 2, "unknown segment 'regular_sleepy'")
    error = _json_error(result)
    assert error["code"] == "E-PLAYBOOK"
    assert error["key"] == "tactics.bad" and error["file"] == str(project / "pb.yaml")
