"""`segtool export`: the workspace → workbooks and CSV files in --out (or one CSV on stdout)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from segtool import console, schema
from segtool.commands import load, workspace_for
from segtool.errors import E_USAGE, EXIT_OK, SegtoolError
from segtool.manifest import add_outputs

if TYPE_CHECKING:
    from segtool.config import Config
    from segtool.history.session import HistorySession, NoHistory
    from segtool.workspace import Workspace


def _read_rejects(path: Path) -> pl.DataFrame:
    if not path.exists():
        return schema.empty(dict(schema.REJECTS))
    return pl.read_csv(path, schema=schema.REJECTS)


def execute(
    config_path: Path | None,
    workspace_override: Path | None,
    out: Path,
    fmt: str | None,
    output: str | None = None,
    what: str = "segments",
    history: Path | None = None,
    use_history: bool = True,
) -> int:
    from segtool.commands.run import parse_formats
    from segtool.io.atomic import FolderLock, OutputSet
    from segtool.io.csv_out import csv_bytes
    from segtool.report import dump_manifest
    from segtool.steps.export import WHAT_CHOICES, stdout_frame, write_outputs
    from segtool.workspace import MANIFEST

    if output is not None and output != "-":
        raise SegtoolError(
            f"-o {output!r}: only '-' (stdout) is supported; use --out DIR for files",
            code=E_USAGE,
        )
    if what not in WHAT_CHOICES:
        raise SegtoolError(
            f"--what {what!r}: expected one of {', '.join(WHAT_CHOICES)}", code=E_USAGE
        )
    cfg = load(config_path)
    formats = parse_formats(fmt, cfg.export.formats)
    workspace = workspace_for(cfg, workspace_override)
    start = time.perf_counter()
    with workspace.lock():
        manifest = workspace.manifest()
        segments = workspace.scan("segments").collect()
        tasks = workspace.scan("tasks").collect()
        data_quality = workspace.scan("data_quality").collect()
        rejects = _read_rejects(workspace.path / "rejects.csv")

    frames = {
        "segments": segments,
        "tasks": tasks,
        "data_quality": data_quality,
        "rejects": rejects,
    }
    if output == "-":
        data = csv_bytes(stdout_frame(what, **frames), cfg.export.csv)
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:  # a text-only stdout (tests)
            sys.stdout.write(data.decode(cfg.export.csv.encoding))
        else:
            stream.write(data)
            stream.flush()
        return EXIT_OK

    from segtool.history.session import open_history
    from segtool.pipeline import check_out_outside_inputs, removed_notice

    check_out_outside_inputs(cfg, out)
    with (
        FolderLock(out),
        open_history(cfg, history, enabled=use_history, out=out, previous=None) as hist,
    ):
        if manifest.get("as_of"):  # the history rules need the tasks' as_of
            # what `run` does after assign-tactics, from the workspace's files
            warnings = _finish(cfg, out, formats, hist, workspace, manifest, frames)
            removed: list[str] = []
        else:
            with OutputSet(out) as outset:
                warnings = write_outputs(
                    outset, **frames, summary=manifest, cfg=cfg, formats=formats, deferred=None
                )
                hist.stage(manifest)  # the run, pending until the outputs are in place
                manifest.setdefault("timings", {})["export"] = round(time.perf_counter() - start, 3)
                add_outputs(manifest, cfg, [*outset.names, MANIFEST])
                outset.path(MANIFEST).write_bytes(dump_manifest(manifest))
            hist.commit()
            warnings += hist.warnings
            removed = outset.removed
    if removed:
        warnings.append(removed_notice(out, removed))
    for message in warnings:
        console.warn(message)
    if any(row.get("in_team") for row in manifest.get("owners", {}).values()):
        from segtool.steps.capacity import owner_lines

        for line in owner_lines(manifest["owners"]):
            console.info(line)
    console.info(
        f"wrote {len(manifest['outputs'])} files to {out}: {', '.join(manifest['outputs'])}"
    )
    return EXIT_OK


def _finish(
    cfg: Config,
    out: Path,
    formats: set[str],
    hist: HistorySession | NoHistory,
    workspace: Workspace,
    manifest: dict[str, Any],
    frames: dict[str, pl.DataFrame],
) -> list[str]:
    """History rules, effectiveness, migration, capacity plan and outputs, as in `run`."""
    from segtool.pipeline import finish_run
    from segtool.playbook import load_playbook
    from segtool.report import Timings
    from segtool.steps.effectiveness import arm_responses
    from segtool.steps.tactics import ASSIGNMENT_SCHEMA, TacticsResult, TacticsStats

    playbook = load_playbook(cfg)
    as_of = dt.date.fromisoformat(manifest["as_of"])
    timings = Timings(dict(manifest.get("timings", {})))
    arms = hist.earlier_arms(as_of)
    responses = None
    with workspace.lock():
        assignments = (
            workspace.scan("assignments").collect()
            if workspace.has("assignments")
            else pl.DataFrame(schema=ASSIGNMENT_SCHEMA)
        )
        if arms is not None and arms.height and workspace.has("orders"):
            with timings.measure("effectiveness"):
                responses = arm_responses(
                    arms, workspace.scan("orders"), as_of, cfg.effectiveness.window_days
                )
    tactics = TacticsResult(
        tasks=frames["tasks"],
        data_quality=frames["data_quality"],
        stats=TacticsStats(),
        assignments=assignments,
    )
    return finish_run(
        cfg,
        out=out,
        formats=formats,
        hist=hist,
        prev=None,
        playbook=playbook,
        as_of=as_of,
        segments=frames["segments"],
        tactics=tactics,
        rejects=frames["rejects"],
        arms=arms,
        responses=responses,
        manifest=manifest,
        timings=timings,
    )
