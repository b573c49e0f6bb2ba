"""People-facing output on stderr: rich on a TTY, plain lines otherwise (or with NO_COLOR).

stdout is kept for data (``-o -`` CSV, ``--json`` summaries).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_state = {"quiet": False, "debug": False}
_console = None


def configure(*, quiet: bool = False, debug: bool = False) -> None:
    _state["quiet"] = quiet
    _state["debug"] = debug


def is_quiet() -> bool:
    return _state["quiet"]


def is_debug() -> bool:
    return _state["debug"]


def fancy() -> bool:
    """True when stderr is a terminal and colour is allowed."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stderr.isatty()


def console():
    """The shared rich console on stderr (created lazily: rich is not imported for --help)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(
            stderr=True,
            no_color=not fancy(),
            highlight=False,
            force_terminal=fancy(),
            soft_wrap=True,
        )
    return _console


def info(message: str) -> None:
    """A progress or summary line (hidden by --quiet)."""
    if not _state["quiet"]:
        if fancy():
            console().print(message)
        else:
            print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """A warning: shown even with --quiet."""
    if fancy():
        console().print(f"[yellow]warning:[/yellow] {message}", markup=True)
    else:
        print(f"warning: {message}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    if fancy():
        from rich.markup import escape

        console().print(f"[bold red]error:[/bold red] {escape(message)}")
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)


def table(rich_table, plain_lines: list[str]) -> None:
    """Show a rich table on a TTY, or the given plain lines otherwise."""
    if _state["quiet"]:
        return
    if fancy():
        console().print(rich_table)
    else:
        for line in plain_lines:
            print(line, file=sys.stderr)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Announce a step; a spinner on a TTY, a plain line otherwise."""
    if _state["quiet"]:
        yield
        return
    if fancy():
        with console().status(label):
            yield
    else:
        print(f"{label}", file=sys.stderr, flush=True)
        yield
