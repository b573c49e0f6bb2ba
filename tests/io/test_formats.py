"""Exports as people save them: UTF-16 "Unicode text", KOI8-R, Mac Cyrillic, CR-only line
endings, HTML tables called .xls, legacy .xls, .ods, a title sheet in front of the data,
very wide files, and devices or FIFOs given as the input."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from clirun import segtool_cmd

from segtool.errors import InputError
from segtool.io import sniff
from segtool.io.readers import read_table

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = ["ИНН", "Наименование клиента", "Дата", "Сумма"]
ROWS = [
    ["7701234567", "ООО Ромашка", "05.03.2024", "1 200,50"],
    ["0012", "ИП Волков", "11.02.2024", "350,25"],
]


def table_text(sep: str = ";", newline: str = "\n") -> str:
    return newline.join(sep.join(r) for r in [HEADER, *ROWS]) + newline


def read_rows(path: Path, **kwargs) -> list[tuple]:
    raw = read_table(path, "orders", **kwargs)
    try:
        return [tuple(r) for r in raw.frame.select([*raw.headers, "__row"]).collect().rows()]
    finally:
        raw.cleanup()


EXPECTED = [
    ("7701234567", "ООО Ромашка", "05.03.2024", "1 200,50", 2),
    ("0012", "ИП Волков", "11.02.2024", "350,25", 3),
]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_tabs_with_and_without_bom(tmp_path, encoding):
    path = tmp_path / "orders.txt"
    path.write_bytes(table_text("\t", "\r\n").encode(encoding))
    assert read_rows(path) == EXPECTED


@pytest.mark.parametrize("codec", ["koi8-r", "mac-cyrillic", "cp1251"])
def test_8bit_cyrillic_code_pages_are_told_apart(tmp_path, codec):
    path = tmp_path / "orders.csv"
    path.write_bytes(table_text().encode(codec))
    raw = read_table(path, "orders")
    raw.cleanup()
    assert raw.encoding == codec
    assert read_rows(path) == EXPECTED


def test_english_headers_with_koi8_company_names(tmp_path):
    text = (
        "Customer ID;Company;Date;Amount\n1;ООО Ромашка;05.03.2024;10\n"
        "2;Завод Прибор;06.03.2024;20\n"
    )
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("koi8-r"))
    assert [r[1] for r in read_rows(path)] == ["ООО Ромашка", "Завод Прибор"]


def test_code_page_named_in_the_config_wins(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(table_text().encode("koi8-r"))
    assert read_rows(path, encoding="koi8-r") == EXPECTED


def test_cr_only_line_endings(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(table_text(newline="\r").encode("cp1251"))
    assert read_rows(path) == EXPECTED
    path.write_bytes(table_text(newline="\r").encode("utf-8"))
    assert read_rows(path) == EXPECTED


HTML = """<html xmlns:x="urn:schemas-microsoft-com:office:excel">
<head><meta http-equiv="Content-Type" content="text/html; charset={charset}"></head>
<body><table><tr><td>Bitrix24: выгрузка</td></tr></table>
<table border="1">
<tr><th colspan="4">Сделки за март</th></tr>
<tr><th>ИНН</th><th>Наименование клиента</th><th>Дата</th><th>Сумма</th></tr>
<tr><td>7701234567</td><td>ООО &laquo;Ромашка&raquo;</td><td>05.03.2024</td><td>1 200,50</td></tr>
<tr><td>0012</td><td>ИП <b>Волков</b></td><td>11.02.2024</td><td>350,25
</table></body></html>"""


@pytest.mark.parametrize("charset", ["utf-8", "windows-1251"])
def test_html_table_saved_as_xls(tmp_path, charset):
    path = tmp_path / "deals.xls"
    path.write_bytes(HTML.format(charset=charset).encode(charset))
    raw = read_table(path, "orders")
    raw.cleanup()
    assert raw.file_type == "HTML"
    assert raw.header_row == 2  # the title row above it is row 1 of that table
    assert read_rows(path) == [
        ("7701234567", "ООО «Ромашка»", "05.03.2024", "1 200,50", 3),
        ("0012", "ИП Волков", "11.02.2024", "350,25", 4),
    ]


def test_html_without_a_recognisable_table_is_refused(tmp_path):
    path = tmp_path / "page.xls"
    path.write_text("<html><body><table><tr><td>a</td><td>b</td></tr></table></body></html>")
    with pytest.raises(InputError, match="none with a recognisable header"):
        read_table(path, "orders")


def test_legacy_xls_with_a_title_sheet_first():
    raw = read_table(FIXTURES / "orders_title_sheet.xls", "orders")
    assert raw.sheet == "Данные" and raw.file_type == "XLS"
    rows = raw.frame.select([*raw.headers, "__row"]).collect().rows()
    assert rows[0] == ("7701234567", "ООО Ромашка", "05.03.2024", "1 200,50", 2)
    assert len(rows) == 3


def test_sheet_in_the_config_still_wins():
    raw = read_table(FIXTURES / "orders_title_sheet.xls", "orders", sheet="Титул")
    assert raw.sheet == "Титул"


def write_ods(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    """A minimal OpenDocument spreadsheet (mimetype first and stored, as the format asks)."""

    def cell(v: str) -> str:
        return (
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
        )

    body = "".join(
        f'<table:table table:name="{name}">'
        + "".join(
            "<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "mimetype",
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)


def test_ods_with_notes_sheet_first(tmp_path):
    path = tmp_path / "orders.ods"
    write_ods(path, {"Notes": [["exported by hand"]], "Orders": [HEADER, *ROWS]})
    raw = read_table(path, "orders")
    assert raw.sheet == "Orders" and raw.file_type == "ODS"
    assert raw.frame.select(raw.headers).collect().rows() == [tuple(r) for r in ROWS]


def test_5000_column_file_is_read_in_seconds(tmp_path):
    from segtool.config import Config
    from segtool.steps.ingest import ingest_file

    width = 5000
    header = ["ИНН", "Дата", "Сумма"] + [f"Поле {i}" for i in range(width - 3)]
    rows = [";".join(header)]
    for i in range(50):
        rows.append(";".join([f"77{i:08d}", "05.03.2024", f"{i},5"] + ["x"] * (width - 3)))
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(path)}}})
    start = time.perf_counter()
    accepted, rejects, stats, fmt = ingest_file(path, "orders", cfg)
    elapsed = time.perf_counter() - start
    assert stats.rows_accepted == 50 and rejects.height == 0
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_dev_zero_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(InputError, match="/dev/zero: a device, not a regular file") as err:
        read_table(Path("/dev/zero"), "orders")
    assert err.value.exit_code == 3
    assert time.perf_counter() - start < 1


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "orders.csv"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(InputError, match="FIFO"):
        sniff.file_kind(fifo)
    assert time.perf_counter() - start < 1


def test_dev_zero_through_the_command_line_exits_3_at_once(tmp_path):
    config = tmp_path / "segtool.yaml"
    config.write_text("inputs: {orders: {path: /dev/zero}}\n", encoding="utf-8")
    start = time.perf_counter()
    result = subprocess.run(
        segtool_cmd("run", "--config", str(config), "--out", str(tmp_path / "out")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "/dev/zero" in result.stderr and "Traceback" not in result.stderr
    assert time.perf_counter() - start < 10  # interpreter start-up included


def test_sigterm_stops_a_read_of_a_large_input(tmp_path):
    """Regular files are read in bounded blocks, so SIGTERM (turned into SystemExit by the
    CLI) ends a run that is reading a large input, without a traceback."""
    big = tmp_path / "orders.csv"
    with open(big, "w", encoding="cp1251") as handle:  # cp1251: transcoded block by block
        handle.write("ИНН;Дата;Сумма\n")
        line = "7701234567;05.03.2024;1,5\n" * 10_000
        for _ in range(100):
            handle.write(line)
    config = tmp_path / "segtool.yaml"
    config.write_text(f"inputs: {{orders: {{path: '{big}'}}}}\n", encoding="utf-8")
    proc = subprocess.Popen(
        segtool_cmd(
            "run", "--config", str(config), "--out", str(tmp_path / "out"), "--format", "csv"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert time.perf_counter() - sent < 10
    assert "Traceback" not in err


def test_xlsx_with_a_title_page_first(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Титул"
    book.active["A1"] = "Отчёт по продажам"
    data = book.create_sheet("Продажи")
    data.append(["Отчёт за март"])
    data.append(HEADER)
    for row in ROWS:
        data.append(row)
    path = tmp_path / "orders.xlsx"
    book.save(path)
    raw = read_table(path, "orders")
    assert raw.sheet == "Продажи" and raw.header_row == 2
    assert raw.frame.select([*raw.headers, "__row"]).collect().rows()[0] == (
        "7701234567",
        "ООО Ромашка",
        "05.03.2024",
        "1 200,50",
        3,
    )
