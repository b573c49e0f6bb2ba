"""Exit codes and the error catalogue.

Fatal problems raise :class:`SegtoolError` (or a subclass); the CLI turns it into one
line on stderr and the matching exit code. Data problems in single rows are not
exceptions: they become reject records (see :mod:`segtool.steps.ingest`).
"""

from __future__ import annotations

# -- exit codes (DESIGN.md "Command line") ------------------------------------------
EXIT_OK = 0
EXIT_DATA = 1  # done, but data problems over the configured limit
EXIT_USAGE = 2  # usage or configuration error
EXIT_INPUT = 3  # an input cannot be read
EXIT_LOCKED = 75  # another run holds the lock (EX_TEMPFAIL: cron may retry)


class SegtoolError(Exception):
    """A user-facing fatal error: one line, a stable code, an exit code."""

    exit_code = EXIT_USAGE
    code = "E-USAGE"

    def __init__(self, message: str, *, code: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(SegtoolError):
    """The config or playbook is invalid (exit 2)."""

    code = "E-CONFIG"
    exit_code = EXIT_USAGE


class InputError(SegtoolError):
    """An input file cannot be read at all (exit 3)."""

    code = "E-INPUT"
    exit_code = EXIT_INPUT


class LockedError(SegtoolError):
    """Another run holds the lock on the workspace or output folder (exit 75)."""

    code = "E-LOCKED"
    exit_code = EXIT_LOCKED


class OutputError(SegtoolError):
    """Outputs cannot be written (unwritable folder, disk full...)."""

    code = "E-OUTPUT"
    exit_code = EXIT_INPUT


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
