"""Command line: one short function per subcommand. No polars or openpyxl here.

Each command parses options, loads the config and calls one function from
:mod:`segtool.commands`; errors become one line on stderr and an exit code
(see :mod:`segtool.errors`).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from segtool import __version__, console
from segtool.errors import (
    E_INTERNAL,
    E_MEMORY,
    EXIT_INPUT,
    EXIT_INTERNAL,
    SegtoolError,
    error_json,
)
from segtool.io.atomic import Interrupted
from segtool.options import (
    AsOfOpt,
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    HistoryOpt,
    JsonOpt,
    NoHistoryOpt,
    OutOpt,
    QuietOpt,
    WorkspaceOpt,
)

app = typer.Typer(
    name="segtool",
    help="Segment B2B customers from CRM order exports and write call and mail task sheets.\n\n"
    "Typical monthly use: segtool run --config segtool.yaml --out out/2026-11",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"segtool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    console.configure(quiet=quiet, debug=debug)


def _setup(quiet: bool, debug: bool) -> None:
    """Options given after the subcommand name count as well as before it."""
    console.configure(quiet=quiet or console.is_quiet(), debug=debug or console.is_debug())


def _finish(code: int) -> None:
    raise typer.Exit(code)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write segtool.yaml and playbook.yaml into.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a commented starter config and playbook."""
    _setup(quiet, debug)
    from segtool.commands import init as cmd

    _finish(cmd.execute(directory, force=force))


@app.command()
def inspect(
    files: Annotated[list[Path], typer.Argument(help="CSV or XLSX exports to look at.")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many parsed rows to show.")] = 5,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name.")] = None,
    config: ConfigOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show how a file would be read: encoding, delimiter, header row, column mapping,
    date and number formats, and a few parsed rows."""
    _setup(quiet, debug)
    from segtool.commands import inspect as cmd

    _finish(cmd.execute(files, rows=rows, sheet=sheet, config_path=config))


@app.command()
def ingest(
    config: ConfigOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Read the order and contact exports into the workspace (orders.parquet,
    contacts.parquet, rejects.csv, manifest.json) and print the row accounting per file."""
    _setup(quiet, debug)
    from segtool.commands import ingest as cmd

    _finish(cmd.execute(config, workspace, as_json=json))


@app.command()
def score(
    config: ConfigOpt = None,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Compute one row of metrics per customer (recency, orders, revenue, cadence...)."""
    _setup(quiet, debug)
    from segtool.commands import score as cmd

    _finish(cmd.execute(config, workspace, as_of))


@app.command()
def classify(
    config: ConfigOpt = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Put each customer in a lifecycle segment, grade it A/B/C and raise red flags."""
    _setup(quiet, debug)
    from segtool.commands import classify as cmd

    _finish(cmd.execute(config, workspace))


@app.command("assign-tactics")
def assign_tactics(
    config: ConfigOpt = None,
    workspace: WorkspaceOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Turn segments into tasks with the playbook: who to contact, how, with what script,
    by when."""
    _setup(quiet, debug)
    from segtool.commands import tactics as cmd

    _finish(cmd.execute(config, workspace))


@app.command()
def export(
    out: OutOpt = Path("out"),
    config: ConfigOpt = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", help="'-' writes one CSV (see --what) to stdout instead."),
    ] = None,
    what: Annotated[
        str,
        typer.Option("--what", help="With -o -: segments, call_tasks, mail_tasks or data_quality."),
    ] = "segments",
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write the segment lists, call and mail task sheets and the summary workbook."""
    _setup(quiet, debug)
    from segtool.commands import export as cmd

    _finish(
        cmd.execute(
            config,
            workspace,
            out,
            fmt,
            output=output,
            what=what,
            history=history,
            use_history=not no_history,
        )
    )


@app.command()
def run(
    out: OutOpt = Path("out"),
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="Last month's output folder, for the migration report "
            "(default with history: the last run recorded in it).",
        ),
    ] = None,
    fmt: FormatOpt = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Also keep the intermediate parquet files here."),
    ] = None,
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The monthly job: ingest, score, classify, assign tactics and export in one go."""
    _setup(quiet, debug)
    from segtool.commands import run as cmd

    _finish(
        cmd.execute(
            config,
            out,
            as_of=as_of,
            previous=previous,
            fmt=fmt,
            workspace=workspace,
            as_json=json,
            history=history,
            use_history=not no_history,
        )
    )


@app.command("history")
def history_(
    customer_id: Annotated[
        str | None, typer.Argument(help="A customer id: show its contact log.")
    ] = None,
    config: ConfigOpt = None,
    history: HistoryOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the contact history: a customer's tasks and status changes, or a summary of
    the runs and tasks by status."""
    _setup(quiet, debug)
    from segtool.commands import history as cmd

    _finish(cmd.execute(config, history, customer_id, as_json=json))


def _on_signal(signum: int, frame: object) -> None:  # pragma: no cover - subprocess tests
    from segtool.io import atomic

    if atomic.defer_signal(signum):  # the folders are being swapped: raised right after
        return
    raise Interrupted(128 + signum)


# polars' allocator (jemalloc) keeps freed pages for a second or two, still counted as the
# process's memory, and reuses them poorly across the engine's threads: a 10M-line run
# peaked 0.2-0.4 GB higher than it needed. Hand them back within 0.1 s, from a background
# thread (no measurable cost in the benchmark). Read by polars when it is first imported;
# a value already set in the environment wins.
ALLOCATOR_ENV = "_RJEM_MALLOC_CONF"
ALLOCATOR_CONF = "background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0"


# Python raises MemoryError where an allocation it makes fails; polars' own allocations abort
# the process (Rust), which no handler can turn into a line (docs/reliability.md).
OUT_OF_MEMORY = (
    "not enough memory for this run; close other programs, raise the memory limit "
    "(ulimit -v) or split the exports into smaller files"
)


# Under an address-space limit (ulimit -v), jemalloc's default of keeping unmapped address
# space for reuse made a 541k-line run abort at 1.5 GB with 0.2 GB resident ("memory
# allocation ... failed", exit 134: no handler can turn a Rust abort into a line). Giving it
# back to the system costs a little speed, so it is asked for only when such a limit is set.
ALLOCATOR_LIMITED = ",retain:false"


def _address_space_limited() -> bool:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, AttributeError):
        return False
    return soft != resource.RLIM_INFINITY


def main() -> None:
    """Entry point: run the app, turning known errors into one line and an exit code."""
    from segtool.io import atomic

    atomic.forget_commits()
    limited = _address_space_limited()
    os.environ.setdefault(ALLOCATOR_ENV, ALLOCATOR_CONF + (ALLOCATOR_LIMITED if limited else ""))
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        app()
    except Interrupted:
        console.error(atomic.interrupted_message())
        raise
    except SegtoolError as exc:
        if console.is_debug():
            raise
        _fail(exc.message, exc.as_json(), exc.exit_code)
    except MemoryError:
        if console.is_debug():
            raise
        _fail(OUT_OF_MEMORY, error_json(E_MEMORY, OUT_OF_MEMORY), EXIT_INPUT)
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback
        if console.is_debug():
            raise
        message = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)"
        _fail(message, error_json(E_INTERNAL, message), EXIT_INTERNAL)


def _json_requested(argv: list[str]) -> bool:
    """``--json`` among the options (before a ``--`` that ends them)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in options


def _fail(message: str, payload: dict[str, object], exit_code: int) -> None:
    """The one line on stderr; with ``--json`` also the error as JSON on stdout."""
    console.error(message)
    if _json_requested(sys.argv[1:]):
        import json

        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    sys.exit(exit_code)
