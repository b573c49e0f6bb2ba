"""Typer options shared by several subcommands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (YAML). Default: ./segtool.yaml, else ./config/segtool.yaml.",
        show_default=False,
    ),
]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Folder for intermediate files between steps. Default: .segtool next to the config.",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Date the analysis is made for: YYYY-MM-DD, DD.MM.YYYY or 'today'. "
        "Default: the latest order date in the input.",
        show_default=False,
    ),
]
OutOpt = Annotated[
    Path,
    typer.Option("--out", help="Output folder for the workbooks and CSV files."),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Which files to write: xlsx, csv or xlsx,csv. Default: export.formats in the config.",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary to stdout.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--history",
        help="Contact history file (SQLite). Default: history.path in the config "
        "(segtool-history.db next to it).",
        show_default=False,
    ),
]
NoHistoryOpt = Annotated[
    bool,
    typer.Option("--no-history", help="Do not read or record the contact history."),
]
