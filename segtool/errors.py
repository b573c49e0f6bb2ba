"""Exit codes and the error catalogue.

Fatal problems raise :class:`SegtoolError` (or a subclass) with a code from
:data:`CATALOGUE`; the CLI turns it into one line on stderr and the code's exit code, and
with ``--json`` also into ``{"error": {"code", "message", "file", "row", "key"}}`` on
stdout. Data problems in single rows are not exceptions: they become reject records (see
:mod:`segtool.steps.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# -- exit codes (DESIGN.md "Command line") ------------------------------------------
EXIT_OK = 0
EXIT_DATA = 1  # done, but data problems over the configured limit
EXIT_USAGE = 2  # usage or configuration error
EXIT_INPUT = 3  # an input cannot be read (and an output cannot be written)
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug; the one line asks for a --debug rerun
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL: cron may retry)


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the catalogue: the stable code, its exit code, the form of its
    one-line message (``{file}``, ``{key}``, ``{reason}``... are filled at the raise site)
    and what it means, for the docs."""

    code: str
    exit_code: int
    template: str
    description: str


CATALOGUE: dict[str, ErrorCode] = {}


def _entry(code: str, exit_code: int, template: str, description: str) -> str:
    CATALOGUE[code] = ErrorCode(code, exit_code, template, description)
    return code


# -- usage ------------------------------------------------------------------------------
E_USAGE = _entry("E-USAGE", EXIT_USAGE, "{option}: {problem}", "a command-line option is wrong")
E_USAGE_ASOF = _entry(
    "E-USAGE-ASOF", EXIT_USAGE, "--as-of {value}: {problem}", "--as-of is not a usable date"
)
E_USAGE_FORMAT = _entry(
    "E-USAGE-FORMAT",
    EXIT_USAGE,
    "--format {value}: expected xlsx, csv or xlsx,csv",
    "--format names an unknown output format",
)
E_USAGE_PREVIOUS = _entry(
    "E-USAGE-PREVIOUS",
    EXIT_USAGE,
    "--previous {folder}: {problem}",
    "--previous cannot be used as given (e.g. it is the --out folder itself)",
)
E_INIT_EXISTS = _entry(
    "E-INIT-EXISTS",
    EXIT_USAGE,
    "{files} already exist; use --force to overwrite",
    "segtool init would overwrite an existing config or playbook",
)
E_WORKSPACE = _entry(
    "E-WORKSPACE",
    EXIT_USAGE,
    "{file}: not found; run `segtool {step} --config ...` first",
    "a step command needs the output of an earlier step in the workspace",
)
# -- config and playbook ----------------------------------------------------------------
E_CONFIG = _entry("E-CONFIG", EXIT_USAGE, "{file}: {problem}", "the config cannot be used")
E_CONFIG_MISSING = _entry(
    "E-CONFIG-MISSING",
    EXIT_USAGE,
    "{file}: file not found (create one with: segtool init)",
    "no config file where one was asked for",
)
E_CONFIG_YAML = _entry(
    "E-CONFIG-YAML", EXIT_USAGE, "{file}:{row}: {problem}", "the config is not valid YAML"
)
E_CONFIG_KEY = _entry(
    "E-CONFIG-KEY",
    EXIT_USAGE,
    "{file}: key '{key}' = {value}: {problem}",
    "a config or playbook key is unknown, missing or has a wrong value",
)
E_CONFIG_COLUMN = _entry(
    "E-CONFIG-COLUMN",
    EXIT_USAGE,
    "{file}: column {column!r} (from {key}) not in the header",
    "a column named in inputs.*.columns is not in the file",
)
E_CONFIG_OUT = _entry(
    "E-CONFIG-OUT",
    EXIT_USAGE,
    "--out {folder}: {problem}",
    "the output folder is unsafe to replace (it holds files segtool did not write)",
)
E_PLAYBOOK = _entry(
    "E-PLAYBOOK", EXIT_USAGE, "{file}: tactic '{key}': {problem}", "the playbook is invalid"
)
# -- inputs -----------------------------------------------------------------------------
E_INPUT = _entry("E-INPUT", EXIT_INPUT, "{file}: {problem}", "an input cannot be read")
E_INPUT_MISSING = _entry(
    "E-INPUT-MISSING", EXIT_INPUT, "{file}: file not found", "an input file does not exist"
)
E_INPUT_READ = _entry(
    "E-INPUT-READ",
    EXIT_INPUT,
    "{file}: cannot read: {reason}",
    "an input file exists but cannot be read (permissions, I/O error)",
)
E_INPUT_EMPTY = _entry(
    "E-INPUT-EMPTY", EXIT_INPUT, "{file}: the file is empty", "an input holds no data at all"
)
E_INPUT_ENCODING = _entry(
    "E-INPUT-ENCODING",
    EXIT_INPUT,
    "{file}: unknown encoding {value!r}",
    "inputs.formats.encoding names an encoding Python does not know",
)
E_INPUT_FORMAT = _entry(
    "E-INPUT-FORMAT",
    EXIT_INPUT,
    "{file}: {problem}",
    "an input is not CSV, Excel or an HTML table segtool can read",
)
E_INPUT_XLSX = _entry(
    "E-INPUT-XLSX",
    EXIT_INPUT,
    "{file}: cannot open the workbook: {reason}",
    "an Excel workbook is damaged, encrypted or not a workbook",
)
E_INPUT_SHEET = _entry(
    "E-INPUT-SHEET",
    EXIT_INPUT,
    "{file}: no sheet {sheet!r}; sheets: {sheets}",
    "the sheet asked for is not in the workbook",
)
E_INPUT_COLUMNS = _entry(
    "E-INPUT-COLUMNS",
    EXIT_INPUT,
    "{file}: no column for {what}; header: {header}",
    "a required column (customer, date, amount) cannot be found",
)
E_INPUT_CHANGED = _entry(
    "E-INPUT-CHANGED",
    EXIT_INPUT,
    "{file}: changed while it was being read",
    "an input file was rewritten during the run",
)
E_INPUT_NO_ROWS = _entry(
    "E-INPUT-NO-ROWS",
    EXIT_INPUT,
    "{file}: no order line could be read; {reasons}",
    "every order line was rejected",
)
E_INPUT_PREVIOUS = _entry(
    "E-INPUT-PREVIOUS",
    EXIT_INPUT,
    "{file}: cannot read {what} ({reason})",
    "last month's output folder (--previous) cannot be read",
)
E_SCORE_EMPTY = _entry(
    "E-SCORE-EMPTY",
    EXIT_INPUT,
    "no orders on or before --as-of {as_of}",
    "no order is old enough to score at the --as-of date",
)
E_HISTORY_MISSING = _entry(
    "E-HISTORY-MISSING",
    EXIT_INPUT,
    "{file}: no contact history here",
    "segtool history was asked for a history store that does not exist",
)
E_HISTORY_READ = _entry(
    "E-HISTORY-READ",
    EXIT_INPUT,
    "{file}: cannot read the contact history: {reason}",
    "the contact history store is damaged or unreadable",
)
E_HISTORY_VERSION = _entry(
    "E-HISTORY-VERSION",
    EXIT_INPUT,
    "{file}: written by a newer segtool (version {version})",
    "the contact history was written by a newer segtool",
)
# -- outputs, locks, the rest -----------------------------------------------------------
E_OUTPUT = _entry(
    "E-OUTPUT",
    EXIT_INPUT,
    "{file}: not writable ({reason}); {fix}",
    "an output cannot be written (read-only, open in Excel, disk full); the message names "
    "the file and what to do; earlier outputs are left as they were",
)
E_LOCKED = _entry(
    "E-LOCKED",
    EXIT_LOCKED,
    "{file}: another segtool run is using it; {fix}",
    "another run holds the lock on the output folder, workspace or history",
)
E_MEMORY = _entry(
    "E-MEMORY",
    EXIT_INPUT,
    "not enough memory for this run; {fix}",
    "Python could not allocate memory",
)
E_INTERNAL = _entry(
    "E-INTERNAL",
    EXIT_INTERNAL,
    "internal error: {type}: {reason} (rerun with --debug for details)",
    "a bug in segtool; the --debug run shows the traceback to report",
)


class SegtoolError(Exception):
    """A user-facing fatal error: one line, a code from :data:`CATALOGUE` (which fixes the
    exit code) and, where known, the file, row and config key it is about."""

    code = E_USAGE

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        file: str | Path | None = None,
        row: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            if code not in CATALOGUE:
                raise ValueError(f"error code {code!r} is not in segtool.errors.CATALOGUE")
            self.code = code
        self.file = None if file is None else str(file)
        self.row = row
        self.key = key

    @property
    def exit_code(self) -> int:
        return CATALOGUE[self.code].exit_code

    def __str__(self) -> str:
        return self.message

    def as_json(self) -> dict[str, Any]:
        """``{"error": {...}}``, what ``--json`` prints on stdout on failure."""
        return error_json(self.code, self.message, file=self.file, row=self.row, key=self.key)


def error_json(
    code: str,
    message: str,
    *,
    file: str | None = None,
    row: int | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "file": file, "row": row, "key": key}}


class ConfigError(SegtoolError):
    """The config or playbook is invalid (exit 2)."""

    code = E_CONFIG


class InputError(SegtoolError):
    """An input file cannot be read at all (exit 3)."""

    code = E_INPUT


class LockedError(SegtoolError):
    """Another run holds the lock on the workspace or output folder (exit 75)."""

    code = E_LOCKED


class OutputError(SegtoolError):
    """Outputs cannot be written (unwritable folder, disk full...)."""

    code = E_OUTPUT


# -- reject reason codes (rejects.csv "reason" column; stable, machine-read) ----------
REJECT_MISSING_CUSTOMER = "missing_customer_id"
REJECT_BAD_DATE = "bad_date"
REJECT_MISSING_DATE = "missing_date"
REJECT_BAD_AMOUNT = "bad_amount"
REJECT_MISSING_AMOUNT = "missing_amount"
REJECT_RAGGED = "ragged_row"
REJECT_DUPLICATE = "duplicate"
REJECT_DATE_OUT_OF_RANGE = "date_out_of_range"
REJECT_TOTALS = "totals_row"  # Итого / Всего по клиенту / Total / Subtotal...
REJECT_AMBIGUOUS_DATE = "ambiguous_date"  # contradicts the file's day/month order
REJECT_AMBIGUOUS_AMOUNT = "ambiguous_amount"  # 1.250 in a decimal-comma file
REJECT_OTHER_CURRENCY = "other_currency"  # not the file's currency, no conversion table
REJECT_BAD_ID = "bad_id"  # an id in scientific notation (7,70E+09): its digits are lost
REJECT_GROUP_HEADER = "group_header"  # a grouped report's customer line (carried down)
