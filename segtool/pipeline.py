"""`segtool run`: ingest -> score -> classify -> assign-tactics -> export in one process.

Frames pass from step to step in memory; each step's result is collected once (so it can be
timed and reused by the next steps, the export and the migration report). Nothing goes to
disk between steps unless a workspace is given, in which case the same files the step
commands write are saved there too.

Safety: the output folder is locked for the whole run (:class:`FolderLock`, exit 75 for a
second run), and every output goes through one :class:`OutputSet`: files are staged in a
hidden folder inside ``out`` and moved into place only when all are written, so a failure,
SIGINT or SIGTERM (turned into ``SystemExit`` by ``cli.main``) leaves the previous outputs
as they were and removes the staging folder.

Test hook: ``SEGTOOL_TEST_SLOW_EXPORT=<seconds>`` sleeps that long after every output is
staged and before they are moved into place, so a test can interrupt a run mid-export.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from segtool.config import Config
from segtool.errors import EXIT_DATA, EXIT_OK
from segtool.io.atomic import FolderLock, OutputSet
from segtool.report import Timings, dump_manifest, new_manifest
from segtool.schema import REJECTS
from segtool.workspace import MANIFEST, Workspace

SLOW_EXPORT_ENV = "SEGTOOL_TEST_SLOW_EXPORT"


@dataclass
class RunResult:
    """What a run did: the manifest written to ``out`` and the exit code it calls for."""

    manifest: dict[str, Any]
    exit_code: int = EXIT_OK
    outputs: list[str] = field(default_factory=list)
    reject_rate: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _count_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if column not in frame.columns or frame.height == 0:
        return {}
    counts = frame.group_by(column).len().sort(column, nulls_last=True)
    return {str(k): int(n) for k, n in counts.iter_rows()}


def _slow_export_hook() -> None:
    seconds = os.environ.get(SLOW_EXPORT_ENV)
    if seconds:
        time.sleep(float(seconds))


def run_pipeline(
    cfg: Config,
    *,
    out: Path,
    as_of: dt.date | None,
    previous: Path | None,
    formats: set[str],
    workspace: Path | None = None,
) -> RunResult:
    """Run every step and write the outputs (and the migration report) into ``out``."""
    from segtool.playbook import load_playbook
    from segtool.steps.classify import classify
    from segtool.steps.export import write_outputs
    from segtool.steps.ingest import (
        check_orders_accepted,
        has_contacts_input,
        ingest,
        reject_rate,
        rejects_csv_bytes,
    )
    from segtool.steps.migration import compare, drop_closed_tasks, read_previous, write_migration
    from segtool.steps.score import count_after, resolve_as_of, score
    from segtool.steps.tactics import assign_tactics_with_stats

    out = Path(out)
    timings = Timings()
    manifest = new_manifest(cfg.source_path, cfg.source_sha256)
    with FolderLock(out):
        # read the previous run first: a bad --previous fails before any work is done
        prev = None
        if previous is not None:
            with timings.measure("migration"):
                prev = read_previous(previous, cfg)
        playbook = load_playbook(cfg)

        with timings.measure("ingest"):
            ingested = ingest(cfg, lean=workspace is None)
        check_orders_accepted(ingested)
        manifest["inputs"] = [s.as_dict() for s in ingested.stats]
        manifest["data_quality"] = ingested.quality
        warnings = list(ingested.warnings)
        orders = ingested.orders.lazy()
        contacts = ingested.contacts.lazy()  # as the step commands pass contacts.parquet
        # rejects as the step commands see them: rejects.csv written and read back
        rejects = pl.read_csv(rejects_csv_bytes(ingested.rejects), schema=REJECTS)

        with timings.measure("score"):
            used_as_of = resolve_as_of(orders, as_of, source=", ".join(
                Path(st.path).name for st in ingested.stats if st.kind == "orders"))
            scores = score(orders, contacts, cfg, used_as_of).collect(engine="streaming")
        manifest["as_of"] = used_as_of.isoformat()
        manifest["as_of_source"] = "latest order date" if as_of is None else "--as-of"
        manifest["orders_after_as_of"] = count_after(orders, used_as_of)

        with timings.measure("classify"):
            segments_lazy, classify_summary = classify(scores.lazy(), cfg, orders, used_as_of)
            segments = segments_lazy.collect()
        manifest["classify"] = {
            "customers_per_segment": _count_by(segments, "segment"), **classify_summary,
        }
        manifest["customers_per_segment"] = manifest["classify"]["customers_per_segment"]
        if workspace is None:
            # the order lines (half a gigabyte at 10M lines) are not read after classify
            ingested.orders = ingested.orders.clear()
            del orders, scores, segments_lazy

        with timings.measure("assign-tactics"):
            tactics = assign_tactics_with_stats(segments.lazy(),
                                                contacts if has_contacts_input(cfg) else None,
                                                playbook, cfg,
                                                used_as_of)
            tasks, data_quality = tactics.tasks, tactics.data_quality
        manifest["tactics"] = {
            "playbook": playbook.source,
            **{k: v for k, v in tactics.stats.as_dict().items() if k != "tasks_per_channel"},
        }

        migration = None
        if prev is not None:
            with timings.measure("migration"):
                migration = compare(segments, prev, tasks=tasks, language=cfg.language,
                                    as_of=used_as_of.isoformat(), task_period=cfg.tasks.period)
                tasks = drop_closed_tasks(tasks, migration)
            manifest["migration"] = {"previous": str(prev.folder), **migration.summary()}
        manifest["tasks_per_channel"] = _count_by(tasks, "channel")

        if workspace is not None:
            with timings.measure("workspace"):
                _save_workspace(Workspace(workspace), ingested, scores, segments, tasks,
                                data_quality, manifest)

        rate = reject_rate(ingested)
        manifest["reject_rate"] = round(rate, 6)
        manifest["max_reject_rate"] = cfg.limits.max_reject_rate
        code = EXIT_DATA if rate > cfg.limits.max_reject_rate else EXIT_OK

        with OutputSet(out) as outset:
            with timings.measure("export"):
                warnings += write_outputs(
                    outset, segments=segments, tasks=tasks, data_quality=data_quality,
                    rejects=rejects, summary=manifest, cfg=cfg, formats=formats,
                )
                if migration is not None:
                    write_migration(outset, migration, cfg, formats)
            manifest["timings"] = dict(timings.seconds)
            manifest["outputs"] = sorted([*outset.names, MANIFEST])
            outset.path(MANIFEST).write_bytes(dump_manifest(manifest))
            _slow_export_hook()
    return RunResult(manifest=manifest, exit_code=code, outputs=manifest["outputs"],
                     reject_rate=rate, warnings=warnings)


def _save_workspace(ws: Workspace, ingested, scores, segments, tasks, data_quality,
                    manifest: dict[str, Any]) -> None:
    """The files ``ingest``, ``score``, ``classify`` and ``assign-tactics`` would leave."""
    from segtool.steps.ingest import rejects_csv_bytes

    with ws.lock():
        ws.save(
            {
                "orders": ingested.orders,
                "contacts": ingested.contacts,
                "scores": scores,
                "segments": segments,
                "tasks": tasks,
                "data_quality": data_quality,
            },
            manifest,
            extra_files={"rejects.csv": rejects_csv_bytes(ingested.rejects)},
        )
