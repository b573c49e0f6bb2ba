"""Reading last month's output folder back (``--previous DIR``).

What is read: ``segments.csv`` (this run compares its segments with it) and the task sheets
``call_tasks`` / ``mail_tasks`` (the statuses an analyst marked: tasks done or refused are
not issued again). Analysts open, edit and re-save these files, so reading is forgiving
where a file was only re-saved, and says what to do in one line where it cannot be read:

- CSV files re-saved by Excel: ``;`` or tab delimiters, Windows-1251, a BOM, and the
  apostrophe segtool puts before text starting with ``= + - @`` all read back as written;
- the task sheet is found by its header (task id and status columns), not its position: a
  backup sheet placed before it is not read when segtool's own sheet is there;
- a password-protected, truncated or damaged workbook, or a CSV saved under an ``.xlsx``
  name, is one line (or read as the CSV it is);
- a folder without task files, a task sheet without task ids, and a different
  ``tasks.period`` are warnings (:attr:`PreviousRun.warnings`): done tasks could not be
  recognised, so they would be issued again.

Comparing and writing the migration report stay in :mod:`segtool.steps.migration`.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from segtool.config import Config, CsvOptions
from segtool.errors import E_INPUT_PREVIOUS, InputError
from segtool.io.csv_out import ESCAPE_PREFIX

PREVIOUS_SEGMENTS = "segments.csv"
TASK_WORKBOOKS = ("call_tasks", "mail_tasks")
TASK_STATUSES = ("open", "in_progress", "done", "refused")
CLOSED_STATUSES = ("done", "refused")

# status as shown in the xlsx drop-down (RU or EN labels) or as a code -> code
_STATUS_WORDS = {
    "open": "open", "открыта": "open", "открыто": "open", "новая": "open", "new": "open",
    "in progress": "in_progress", "в работе": "in_progress", "in work": "in_progress",
    "done": "done", "выполнена": "done", "выполнено": "done", "сделано": "done",
    "закрыта": "done", "closed": "done", "completed": "done",
    "refused": "refused", "отказ": "refused", "отказано": "refused", "отказался": "refused",
    "rejected": "refused", "declined": "refused",
}  # fmt: skip

# headers of the task workbooks (snake_case keys, RU/EN labels), normalised by _norm_header
_TASK_HEADERS = {
    "task_id": ["task_id", "task id", "id задачи", "номер задачи", "код задачи", "задача id"],
    "status": ["status", "статус", "состояние"],
    "customer_id": ["customer_id", "customer id", "инн", "id клиента", "код клиента", "клиент id",
                    "инн / код клиента"],
    "company_name": ["company_name", "company", "company name", "компания", "клиент",
                     "контрагент", "наименование", "название компании"],
    "channel": ["channel", "канал"],
    "tactic": ["tactic", "тактика"],
    "due_date": ["due_date", "due date", "due", "срок", "выполнить до", "дата выполнения"],
}  # fmt: skip

# how much of a CSV file is read to pick its delimiter and check it is UTF-8
_HEAD_BYTES = 1 << 16

# a cell Excel turned into a number in scientific notation (an ИНН such as 7707083893)
_SCIENTIFIC = r"^\d(?:[.,]\d+)?[eE]\+?\d+$"


@dataclass
class PreviousRun:
    """What a previous output folder tells: its segments, task statuses and as_of."""

    folder: Path
    segments: pl.DataFrame  # customer_id, company_name, segment, red_flags (all String)
    tasks: pl.DataFrame  # task_id, status (code), customer_id, company_name, channel, ...
    as_of: str | None = None
    task_period: str | None = None  # tasks.period of that run, where its manifest says
    warnings: list[str] = field(default_factory=list)


# -- text as written back ----------------------------------------------------------------------
def _norm_header(name: Any) -> str:
    text = str(name or "").strip().lower().replace("ё", "е")
    return re.sub(r"[\s_\-.,:;/()№#]+", " ", text).strip()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM), else Windows-1251 (Excel's "CSV" in Russian Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def _pick_delimiter(header: str, preferred: str, wanted: tuple[str, ...]) -> str:
    """The delimiter that splits the header into the most known column names."""
    best, best_hits = preferred, 0
    for sep in dict.fromkeys((preferred, ",", ";", "\t", "|")):
        hits = sum(1 for cell in header.split(sep) if _norm_header(cell.strip('"')) in wanted)
        if hits > best_hits:
            best, best_hits = sep, hits
    return best


def unescape(expr: pl.Expr) -> pl.Expr:
    """Undo the CSV formula escape: ``'-12`` -> ``-12`` (only before ``= + - @`` tab, CR)."""
    return expr.str.replace(r"^" + ESCAPE_PREFIX + r"([=+\-@\t\r])", "$1")


def _read_csv_text(path: Path, what: str) -> str:
    try:
        return _decode(Path(path).read_bytes())
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read {what} ({exc.strerror})", code=E_INPUT_PREVIOUS, file=path
        ) from None


def _csv_frame(path: Path, text: str, sep: str, what: str, **options: Any) -> pl.DataFrame:
    try:
        return pl.read_csv(io.StringIO(text), separator=sep, infer_schema=False, **options)
    except pl.exceptions.PolarsError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise InputError(
            f"{path}: cannot read {what} ({first}); save it again as CSV (UTF-8 or Windows-1251)",
            code=E_INPUT_PREVIOUS,
            file=path,
        ) from None


def _utf8_first_line(path: Path, what: str) -> str | None:
    """The first line of a CSV file (without a BOM) when the start of the file is UTF-8 and
    holds a whole line that is not blank; None otherwise (then the file is decoded whole)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read {what} ({exc.strerror})", code=E_INPUT_PREVIOUS, file=path
        ) from None
    whole = len(head) < _HEAD_BYTES
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(
            head.removeprefix(codecs.BOM_UTF8), final=whole
        )
    except UnicodeDecodeError:
        return None
    if "\n" not in text and not whole:
        return None
    return text.split("\n", 1)[0].rstrip("\r") if text.strip() else None


def _read_csv(
    path: Path, what: str, wanted: tuple[str, ...], preferred: str, **options: Any
) -> pl.DataFrame:
    """A CSV file as text columns, its delimiter picked from its first line. A UTF-8 file
    (with or without a BOM) is parsed by polars straight from the file; any other (Windows-1251
    from Excel, or a file polars rejects) is decoded in Python first (:func:`_decode`), as the
    whole file is either UTF-8 or not."""
    header = _utf8_first_line(path, what)
    if header is not None:
        sep = _pick_delimiter(header, preferred, wanted)
        try:
            return pl.read_csv(path, separator=sep, infer_schema=False, glob=False, **options)
        except pl.exceptions.PolarsError:
            pass  # not UTF-8 further on, or not readable: decoded below and read (or reported)
    text = _read_csv_text(path, what)
    sep = _pick_delimiter(text.split("\n", 1)[0].rstrip("\r"), preferred, wanted)
    if not text.strip():
        return pl.DataFrame()
    return _csv_frame(path, text, sep, what, **options)


# -- segments.csv --------------------------------------------------------------------------------
def read_previous_segments(
    path: Path, csv: CsvOptions, warnings: list[str] | None = None
) -> pl.DataFrame:
    """A previous ``segments.csv`` (as written, or re-saved by Excel), codes as text."""
    known = ("customer id", "segment", "company name", "red flags")
    frame = _read_csv(path, "the previous segments", known, csv.delimiter, missing_columns="insert")
    missing = [c for c in ("customer_id", "segment") if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: not a segtool segments.csv (no column {', '.join(missing)})",
            code=E_INPUT_PREVIOUS,
            file=path,
        )
    segments = frame.select(
        unescape(pl.col("customer_id").str.strip_chars()),
        unescape(_text_or_null(frame, "company_name")),
        pl.col("segment").str.strip_chars(),
        _text_or_null(frame, "red_flags").fill_null(""),
    ).filter(pl.col("customer_id").is_not_null() & (pl.col("customer_id") != ""))
    mangled = segments.filter(pl.col("customer_id").str.contains(_SCIENTIFIC)).height
    if mangled and warnings is not None:
        warnings.append(
            f"{path}: {mangled} customer ids look like numbers Excel rewrote (e.g. 7,71E+09); "
            "they cannot be matched: keep segtool's segments.csv as it was written"
        )
    return segments


def _text_or_null(frame: pl.DataFrame, name: str) -> pl.Expr:
    if name in frame.columns:
        return pl.col(name).cast(pl.String)
    return pl.lit(None, dtype=pl.String).alias(name)


# -- task sheets -------------------------------------------------------------------------------
def known_status(expr: pl.Expr) -> pl.Expr:
    """Task status as written (RU/EN label or code, any case; empty = open) -> its code,
    or null when it is none of the known words."""
    words = expr.cast(pl.String).str.strip_chars().str.to_lowercase().str.replace_all("_", " ")
    words = words.str.replace_all("ё", "е").str.replace_all(r"\s+", " ")
    return (
        pl.when(words.is_null() | (words == ""))
        .then(pl.lit("open"))
        .otherwise(words.replace_strict(_STATUS_WORDS, default=None, return_dtype=pl.String))
    )


def status_code(expr: pl.Expr) -> pl.Expr:
    """Task status as written -> code; an unknown word counts as open."""
    return known_status(expr).fill_null("open")


def _export_labels() -> tuple[dict[str, set[str]], set[str]]:
    """Known spellings of each task column (with the export's own RU/EN headers), and the
    names segtool gives its task sheets."""
    wanted = {k: {_norm_header(a) for a in aliases} for k, aliases in _TASK_HEADERS.items()}
    sheets: set[str] = set()
    try:
        from segtool.steps import export
    except ImportError:  # pragma: no cover - export is part of the package
        return wanted, sheets
    for key, aliases in wanted.items():
        aliases.update(_norm_header(export.header(key, language)) for language in ("ru", "en"))
    texts = getattr(export, "_TEXT", {})
    for language in texts.values():
        sheets.update(_norm_header(language.get(k)) for k in ("calls", "mail") if k in language)
    return wanted, sheets


def _find_header(
    sheet: pl.DataFrame,
    wanted: dict[str, set[str]],
) -> tuple[int, dict[str, str]] | None:
    """Row index of the header (within the first 10 rows) and canonical key -> column:
    the first row with a task id column (and as many other task columns as it has)."""
    for index, row in enumerate(sheet.head(10).rows()):
        found: dict[str, str] = {}
        for column, value in zip(sheet.columns, row, strict=True):
            norm = _norm_header(value)
            for key, aliases in wanted.items():
                if key not in found and norm in aliases:
                    found[key] = column
        if "task_id" in found:
            return index, found
    return None


def _task_schema() -> dict[str, pl.DataType]:
    return {**{k: pl.String() for k in _TASK_HEADERS}, "due_date": pl.Date(), "source": pl.String()}


def _as_date(text: pl.Expr) -> pl.Expr:
    """A due date read back as text (ISO, ISO with a time, dd.mm.yyyy) -> Date."""
    day = text.str.strip_chars().str.slice(0, 10)
    return pl.coalesce(
        day.str.to_date("%Y-%m-%d", strict=False), day.str.to_date("%d.%m.%Y", strict=False)
    )


def _workbook_sheets(path: Path) -> dict[str, pl.DataFrame]:
    from segtool.io import sniff

    kind = sniff.file_kind(path)
    if kind == "ole":
        raise InputError(
            f"{path}: the workbook is password-protected (or an old .xls); remove the password "
            "and save it as .xlsx",
            code=E_INPUT_PREVIOUS,
            file=path,
        )
    if kind == "csv":  # a CSV saved under the .xlsx name
        return {"csv": _task_csv(path)}
    sniff.check_xlsx(path)
    try:
        return pl.read_excel(
            path,
            sheet_id=0,
            has_header=False,
            infer_schema_length=0,
            drop_empty_rows=False,  # keep the rows where a spreadsheet counts them
            raise_if_empty=False,
        )
    except Exception as exc:  # noqa: BLE001 - fastexcel and polars raise their own errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise InputError(
            f"{path}: the workbook cannot be read ({first}); open it in Excel "
            "and save it again as .xlsx",
            code=E_INPUT_PREVIOUS,
            file=path,
        ) from None


def _task_csv(path: Path) -> pl.DataFrame:
    wanted = {a for aliases in _export_labels()[0].values() for a in aliases}
    return _read_csv(
        path,
        "last month's tasks",
        tuple(wanted),
        ",",
        has_header=False,
        truncate_ragged_lines=True,
    )


def read_task_rows(path: Path, warnings: list[str] | None = None) -> pl.DataFrame:
    """Every task row of a task workbook or CSV, as written, with where it stands.

    The sheet is found by its header: of the sheets with a task id column, segtool's own
    task sheet (by name) when it is there, else the first; the others are named in a
    warning. A file with no task id column at all is a warning too. Columns: the task
    columns (text), ``raw_status`` as typed, ``status`` (code, null when the word is
    unknown), ``due_date`` (Date), ``source`` (file name) and ``source_row`` (the row as a
    spreadsheet counts it).
    """
    path = Path(path)
    sheets = {"csv": _task_csv(path)} if path.suffix.lower() == ".csv" else _workbook_sheets(path)
    wanted, own_names = _export_labels()
    found = []
    for name, sheet in sheets.items():
        if sheet.height == 0:
            continue
        header = _find_header(sheet, wanted)
        if header is not None:
            found.append((name, sheet, *header))
    notes = warnings if warnings is not None else []
    if not found:
        notes.append(
            f"{path}: no column of task ids (ID задачи / task_id) found; last month's "
            "statuses cannot be matched, so tasks marked done are issued again"
        )
        return pl.DataFrame(
            schema={**_task_schema(), "raw_status": pl.String(), "source_row": pl.Int64()}
        )
    own = [item for item in found if _norm_header(item[0]) in own_names]
    chosen = (own or found)[0]
    # segtool's own sheet and the sheets after it (its continuation when split, one sheet per
    # owner) are read together; a sheet before it (a backup copy) is not
    at = found.index(chosen)
    read = found[at:] if own else [chosen]
    skipped = [item for item in found if item not in read]
    if skipped:
        others = ", ".join(f"«{item[0]}»" for item in skipped)
        notes.append(
            f"{path}: statuses read from sheet «{chosen[0]}»; sheet(s) {others} "
            "also hold task ids and were not read"
        )
    bodies = []
    for order, (name, sheet, index, columns) in enumerate(read):
        if "status" not in columns:
            notes.append(f"{path}: sheet «{name}» has no status column; every task counts as open")
        body = (
            sheet.with_row_index("_index")
            .slice(index + 1)
            .select(
                *(
                    unescape(pl.col(columns[key]).cast(pl.String).str.strip_chars()).alias(key)
                    if key in columns
                    else pl.lit(None, dtype=pl.String).alias(key)
                    for key in _TASK_HEADERS
                ),
                (pl.col("_index").cast(pl.Int64) + 1).alias("source_row"),
                pl.lit(order).alias("_sheet"),
            )
        )
        bodies.append(body)
    rows = pl.concat(bodies).filter(pl.col("task_id").is_not_null() & (pl.col("task_id") != ""))
    rows = rows.with_columns(
        pl.col("status").alias("raw_status"),
        known_status(pl.col("status")).alias("status"),
        _as_date(pl.col("due_date")).alias("due_date"),
        pl.lit(path.name).alias("source"),
    )
    if len(read) > 1:
        # a task on two sheets (the full list and its owner's): the status someone typed
        # (anything but open) wins over an untouched one, a later sheet over an earlier one
        typed = pl.col("status").is_null() | (pl.col("status") != "open")
        rows = (
            rows.with_row_index("_n")
            .sort(typed, "_sheet", "_n")
            .unique("task_id", keep="last")
            .sort("_n")
            .drop("_n")
        )
    return rows.drop("_sheet")


def read_task_statuses(path: Path, warnings: list[str] | None = None) -> pl.DataFrame:
    """task_id and status code (plus what else the sheet has) from a task workbook or CSV,
    for ``--previous``: :func:`read_task_rows`, an unknown status counting as open."""
    rows = read_task_rows(path, warnings)
    return rows.with_columns(pl.col("status").fill_null("open")).drop(
        "raw_status", "source_row", strict=False
    )


def _task_file(folder: Path, stem: str, listed: set[str] | None) -> Path | None:
    """The task file the analyst worked in: of ``stem``.xlsx and .csv (those the run's
    manifest lists, when it has a list), the one changed last."""
    candidates = [folder / f"{stem}{suffix}" for suffix in (".xlsx", ".csv")]
    present = [p for p in candidates if p.is_file()]
    if listed is not None:
        present = [p for p in present if p.name in listed] or present
    if not present:
        return None
    return max(present, key=lambda p: (p.stat().st_mtime_ns, p.suffix == ".xlsx"))


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_previous(folder: Path, cfg: Config) -> PreviousRun:
    """Read the previous output folder (``--previous``): segments and task statuses."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--previous {folder}: no such folder", code=E_INPUT_PREVIOUS)
    seg_path = folder / PREVIOUS_SEGMENTS
    if not seg_path.exists():
        raise InputError(
            f"{seg_path}: not found; --previous must be an earlier segtool output folder "
            "written with the csv format",
            code=E_INPUT_PREVIOUS,
        )
    warnings: list[str] = []
    segments = read_previous_segments(seg_path, cfg.export.csv, warnings)
    manifest = _manifest(folder)
    outputs = manifest.get("outputs")
    listed = {str(n) for n in outputs} if isinstance(outputs, list) else None
    task_frames = []
    for stem in TASK_WORKBOOKS:
        path = _task_file(folder, stem, listed)
        if path is not None:
            task_frames.append(read_task_statuses(path, warnings))
    if not task_frames:
        warnings.append(
            f"--previous {folder}: no call_tasks or mail_tasks file; last month's "
            "statuses are unknown, so tasks marked done are issued again"
        )
    tasks = (
        pl.concat(task_frames, how="diagonal_relaxed").unique(
            "task_id", keep="first", maintain_order=True
        )
        if task_frames
        else pl.DataFrame(schema=_task_schema())
    )
    as_of = manifest.get("as_of")
    period = manifest.get("task_period")
    if isinstance(period, str) and period != cfg.tasks.period:
        warnings.append(
            f"--previous {folder} was made with tasks.period: {period}, this run uses "
            f"{cfg.tasks.period}; task ids differ, so last month's done tasks are not "
            "recognised: use the same tasks.period"
        )
    return PreviousRun(
        folder=folder,
        segments=segments,
        tasks=tasks,
        as_of=str(as_of) if as_of else None,
        task_period=period if isinstance(period, str) else None,
        warnings=warnings,
    )


def lost_zeros_warning(movers: pl.DataFrame, folder: Path) -> str | None:
    """A warning when customers are "gone" and "new" at once only because an id lost its
    leading zeros (``0012`` last month, ``12`` now: segments.csv re-saved by Excel)."""
    if movers.height == 0 or not {"customer_id", "segment", "previous_segment"} <= set(
        movers.columns
    ):
        return None
    key = pl.col("customer_id").str.strip_chars_start("0")
    gone = movers.filter(pl.col("segment").is_null()).select(key.alias("_k"), "customer_id")
    new = movers.filter(pl.col("previous_segment").is_null()).select(key.alias("_k"))
    pairs = gone.join(new, on="_k", how="semi")
    if pairs.height == 0:
        return None
    example = pairs["customer_id"][0]
    return (
        f"--previous {folder}: {pairs.height} customers count as gone and new at once because "
        f"their ids lost leading zeros (e.g. {example}); was segments.csv re-saved in Excel? "
        "keep segtool's CSV as written, or open it via Data > From Text with the id as text"
    )
