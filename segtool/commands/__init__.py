"""What each subcommand does, between option parsing (cli.py) and the steps (steps/).

Each module has ``execute(...) -> int`` returning the exit code. They load the config,
read the workspace, call pure step functions, write outputs and print summaries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from segtool.config import DEFAULT_CONFIG_NAME, Config, load_config
from segtool.errors import E_CONFIG_MISSING, E_USAGE_ASOF, ConfigError, SegtoolError
from segtool.workspace import Workspace


def find_config(path: Path | None) -> Path:
    """The config to use: the given one, else ./segtool.yaml, else ./config/segtool.yaml."""
    if path is not None:
        return path
    for candidate in (Path(DEFAULT_CONFIG_NAME), Path("config") / DEFAULT_CONFIG_NAME):
        if candidate.exists():
            return candidate
    raise ConfigError(
        f"no config given and no ./{DEFAULT_CONFIG_NAME} found; pass --config FILE "
        "or create one with: segtool init",
        code=E_CONFIG_MISSING,
    )


def load(path: Path | None) -> Config:
    from segtool import console

    warnings: list[str] = []
    cfg = load_config(find_config(path), warnings)
    for message in warnings:
        console.warn(message)
    return cfg


def workspace_for(cfg: Config, override: Path | None) -> Workspace:
    return Workspace(override if override is not None else cfg.workspace_path())


AS_OF_MIN = dt.date(1900, 1, 1)
AS_OF_MAX = dt.date(2200, 12, 31)


def parse_as_of(value: str | None) -> dt.date | None:
    """``--as-of``: None (latest order date), ``today``, ``YYYY-MM-DD`` or ``DD.MM.YYYY``,
    between 1900-01-01 and 2200-12-31."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() == "today":
        return dt.date.today()
    date = None
    for form in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            date = dt.datetime.strptime(text, form).date()
            break
        except ValueError:
            continue
    if date is None:
        raise SegtoolError(
            f"--as-of {value!r}: expected a date as YYYY-MM-DD, DD.MM.YYYY or 'today'",
            code=E_USAGE_ASOF,
        )
    if not AS_OF_MIN <= date <= AS_OF_MAX:
        raise SegtoolError(
            f"--as-of {value!r}: the date must be between {AS_OF_MIN.isoformat()} and "
            f"{AS_OF_MAX.isoformat()}; check the year for a typo",
            code=E_USAGE_ASOF,
        )
    return date
