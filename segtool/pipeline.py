"""`segtool run`: ingest -> score -> classify -> assign-tactics -> export in one process.

Frames pass from step to step in memory; each step's result is collected once (so it can be
timed and reused by the next steps, the export and the migration report). Nothing goes to
disk between steps unless a workspace is given, in which case the same files the step
commands write are saved there too.

Safety: the output folder is locked for the whole run (:class:`FolderLock`, exit 75 for a
second run), and every output goes through one :class:`OutputSet`: files are staged in a
hidden folder beside ``out`` and the two folders are swapped in one step only when all are
written, so a failure, SIGINT, SIGTERM (turned into ``SystemExit`` by ``cli.main``) or
SIGKILL leaves the previous outputs as they were. An ``--out`` folder whose outputs an input
pattern would match is refused before any work (:func:`check_out_outside_inputs`).

Test hook: ``SEGTOOL_TEST_SLOW_EXPORT=<seconds>`` sleeps that long after every output is
staged and before they are moved into place, so a test can interrupt a run mid-export.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from segtool import manifest as manifest_for
from segtool.config import Config
from segtool.errors import (
    E_CONFIG_OUT,
    E_USAGE_PREVIOUS,
    EXIT_DATA,
    EXIT_OK,
    ConfigError,
    SegtoolError,
)
from segtool.io.atomic import OUTPUT_NAMES, FolderLock, OutputSet
from segtool.preload import MODEL_MODULES, preloading
from segtool.report import (
    Timings,
    classify_lines,
    dump_manifest,
    ingest_lines,
    new_manifest,
    score_lines,
    tactics_lines,
)
from segtool.schema import REJECTS
from segtool.workspace import MANIFEST, Workspace

if TYPE_CHECKING:
    from collections.abc import Callable

    from segtool.history.session import HistorySession, NoHistory
    from segtool.io.previous import PreviousRun
    from segtool.playbook import Playbook
    from segtool.steps.ingest import IngestResult
    from segtool.steps.tactics import TacticsResult

SLOW_EXPORT_ENV = "SEGTOOL_TEST_SLOW_EXPORT"


@dataclass
class RunResult:
    """What a run did: the manifest written to ``out`` and the exit code it calls for."""

    manifest: dict[str, Any]
    exit_code: int = EXIT_OK
    outputs: list[str] = field(default_factory=list)
    reject_rate: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # information only (hidden by --quiet)
    infos: list[str] = field(default_factory=list)  # the steps' lines, as the commands print


def _slow_export_hook() -> None:
    seconds = os.environ.get(SLOW_EXPORT_ENV)
    if seconds:
        time.sleep(float(seconds))


def _path_matches(pattern: str, path: str) -> bool:
    """``path`` matched by the glob ``pattern`` (both absolute), one component at a time as
    :mod:`glob` does: ``*`` never crosses a ``/``."""
    want = Path(os.path.normpath(pattern)).parts
    have = Path(os.path.normpath(path)).parts
    return len(want) == len(have) and all(
        fnmatch.fnmatchcase(part, rule) for part, rule in zip(have, want, strict=True)
    )


def check_out_outside_inputs(cfg: Config, out: Path) -> None:
    """Refuse an ``--out`` folder whose outputs an input path or glob would read back.

    ``inputs.orders.path: exports/*.csv`` with ``--out exports`` would read this run's
    ``call_tasks.csv`` as orders next month: exit 2 before any work, naming the key.
    """
    folders = {os.path.abspath(out), str(Path(out).resolve())}
    for key in ("orders", "contacts", "companies"):
        item = getattr(cfg.inputs, key)
        if item is None:
            continue
        pattern = os.path.abspath(cfg.resolve(item.path))
        hits = sorted(
            {
                name
                for folder in folders
                for name in OUTPUT_NAMES
                if _path_matches(pattern, os.path.join(folder, name))
            }
        )
        if hits:
            raise ConfigError(
                f"inputs.{key}.path {item.path!r} would also read the outputs segtool writes in "
                f"--out {out} ({', '.join(hits[:3])}); choose an --out folder outside the "
                "inputs or a narrower pattern",
                code=E_CONFIG_OUT,
            )


def check_previous_is_earlier(folder: Path, previous_as_of: str | None, as_of: dt.date) -> None:
    """``--previous`` must be an earlier (or the same) analysis date: a later one is almost
    always the two folders swapped, and would mark every change the wrong way round."""
    if previous_as_of and previous_as_of[:10] > as_of.isoformat():
        raise SegtoolError(
            f"--previous {folder} is as of {previous_as_of[:10]}, after this run's as_of "
            f"{as_of.isoformat()}; pass the folder of an earlier run",
            code=E_USAGE_PREVIOUS,
        )


def run_pipeline(
    cfg: Config,
    *,
    out: Path,
    as_of: dt.date | None,
    previous: Path | None,
    formats: set[str],
    workspace: Path | None = None,
    history: Path | None = None,
    use_history: bool = True,
    as_of_source: str | None = None,
) -> RunResult:
    """Run every step and write the outputs (and the migration report) into ``out``."""
    from segtool.history.session import open_history
    from segtool.io.previous import read_previous
    from segtool.playbook import load_playbook
    from segtool.steps.classify import classify
    from segtool.steps.effectiveness import arm_responses
    from segtool.steps.ingest import (
        check_orders_accepted,
        has_contacts_input,
        ingest,
        rejects_csv_bytes,
    )
    from segtool.steps.score import (
        PerOrder,
        check_as_of,
        count_after,
        per_order_frame,
        resolve_as_of,
        score,
    )
    from segtool.steps.tactics import assign_tactics_with_stats

    out = Path(out)
    check_out_outside_inputs(cfg, out)
    timings = Timings()
    manifest = new_manifest(cfg.source_path, cfg.source_sha256)
    with (
        # numpy, scipy and the model step are imported alongside the ingest (polars' work)
        preloading(MODEL_MODULES if cfg.model.enabled else ()),
        FolderLock(out),
        open_history(cfg, history, enabled=use_history, out=out, previous=previous) as hist,
    ):
        # read the previous run first: a bad --previous fails before any work is done
        prev = None
        if previous is not None:
            with timings.measure("migration"):
                prev = read_previous(previous, cfg)
            if as_of is not None:  # known now: a later --previous fails before any work
                check_previous_is_earlier(prev.folder, prev.as_of, as_of)
        playbook = load_playbook(cfg)

        with timings.measure("ingest"):
            ingested = ingest(cfg, lean=workspace is None)
        check_orders_accepted(ingested)
        rate = manifest_for.add_ingest(manifest, ingested, cfg)
        lines = ingest_lines(ingested, cfg.limits.max_reject_rate, out / "rejects.csv")
        warnings = lines.warnings + (prev.warnings if prev is not None else [])
        orders = ingested.orders.lazy()
        contacts = ingested.contacts.lazy()  # as the step commands pass contacts.parquet
        # rejects as the step commands see them: rejects.csv written and read back
        rejects = pl.read_csv(rejects_csv_bytes(ingested.rejects), schema=REJECTS)

        with timings.measure("score"):
            used_as_of = resolve_as_of(
                orders,
                as_of,
                source=", ".join(
                    Path(st.path).name for st in ingested.stats if st.kind == "orders"
                ),
            )
            # a mistyped --as-of: refused before scoring, or warned about
            as_of_warnings = check_as_of(orders, used_as_of, given=as_of is not None)
            # one group-by of the lines per order, shared by score and classify
            per_order = per_order_frame(orders, cfg, used_as_of)
            scores = score(orders, contacts, cfg, used_as_of, per_order).collect(engine="streaming")
            per_order = PerOrder(  # what classify's lost categories read of it
                per_order.frame.select(
                    pl.col(["customer_id", "order_id", "raw_net", "order_date", "_ranks"]),
                    pl.col("^_cats$"),
                ),
                per_order.categories,
            )
        if prev is not None:
            check_previous_is_earlier(prev.folder, prev.as_of, used_as_of)
        if as_of_source is None:
            as_of_source = manifest_for.AS_OF_LATEST if as_of is None else "--as-of"
        manifest_for.add_score(
            manifest,
            as_of=used_as_of,
            source=as_of_source,
            orders_after=count_after(orders, used_as_of),
            warnings=as_of_warnings,
            cfg=cfg,
        )

        with timings.measure("model"):
            from segtool.steps.model import apply_model

            scores, model = apply_model(scores, cfg)
        manifest_for.add_model(manifest, model)
        warnings += score_lines(as_of_warnings, model).warnings

        with timings.measure("classify"):
            segments_lazy, classify_summary = classify(
                scores.lazy(), cfg, orders, used_as_of, per_order
            )
            segments = segments_lazy.collect()
            del per_order
        manifest_for.add_classify(manifest, classify_summary)
        lines.extend(classify_lines(classify_summary))
        # did the tactics of earlier runs work? responses measured on these orders before
        # they are released; the report is made once this run's statuses are read back
        arms = hist.earlier_arms(used_as_of)
        responses = None
        if arms is not None and arms.height:
            with timings.measure("effectiveness"):
                responses = arm_responses(arms, orders, used_as_of, cfg.effectiveness.window_days)
        if workspace is None:
            # the order lines (half a gigabyte at 10M lines) are not read after classify
            ingested.orders = ingested.orders.clear()
            del orders, scores, segments_lazy

        with timings.measure("assign-tactics"):
            tactics = assign_tactics_with_stats(
                segments.lazy(),
                contacts if has_contacts_input(cfg) else None,
                playbook,
                cfg,
                used_as_of,
            )
        if workspace is None:
            # nothing after assign-tactics reads the contacts (~0.15 GB at 10M lines)
            ingested.contacts = ingested.contacts.clear()
            del contacts
        manifest_for.add_tactics(manifest, tactics.stats, playbook.source)
        lines.extend(tactics_lines(tactics.stats, cfg.tasks.max_per_customer))
        code = EXIT_DATA if rate > cfg.limits.max_reject_rate else EXIT_OK

        def save_workspace() -> None:
            if workspace is not None:
                _save_workspace(
                    Workspace(workspace),
                    ingested,
                    scores,
                    segments,
                    tactics,
                    manifest,
                )

        warnings += finish_run(
            cfg,
            out=out,
            formats=formats,
            hist=hist,
            prev=prev,
            playbook=playbook,
            as_of=used_as_of,
            segments=segments,
            tactics=tactics,
            rejects=rejects,
            arms=arms,
            responses=responses,
            manifest=manifest,
            timings=timings,
            save_workspace=save_workspace if workspace is not None else None,
        )
    return RunResult(
        manifest=manifest,
        exit_code=code,
        outputs=manifest["outputs"],
        reject_rate=rate,
        warnings=warnings + [w for w in lines.warnings if w not in warnings],
        notices=list(ingested.notices),
        infos=lines.infos,
    )


def finish_run(
    cfg: Config,
    *,
    out: Path,
    formats: set[str],
    hist: HistorySession | NoHistory,
    prev: PreviousRun | None,
    playbook: Playbook,
    as_of: dt.date,
    segments: pl.DataFrame,
    tactics: TacticsResult,
    rejects: pl.DataFrame,
    arms: pl.DataFrame | None,
    responses: pl.DataFrame | None,
    manifest: dict[str, Any],
    timings: Timings,
    save_workspace: Callable[[], None] | None = None,
) -> list[str]:
    """Everything after assign-tactics, the same for ``run`` and ``export``: the history
    rules, the effectiveness of earlier tactics, the migration report, the capacity plan,
    the outputs (committed in one step) and the manifest. Returns the warnings."""
    from segtool.history.session import NoHistory
    from segtool.io.previous import lost_zeros_warning
    from segtool.steps.capacity import plan_work
    from segtool.steps.effectiveness import effectiveness
    from segtool.steps.effectiveness_report import write_effectiveness, write_holdout
    from segtool.steps.export import write_outputs
    from segtool.steps.migration import compare, drop_closed_tasks, write_migration

    warnings: list[str] = []
    data_quality = tactics.data_quality
    with timings.measure("assign-tactics"):
        tasks = hist.apply(tactics.tasks, segments, playbook, as_of)  # carried, cooled down
        hist.record_assignments(tactics.assignments, cfg.experiments.experiment)
    if save_workspace is None:
        # the tasks as issued, before the history's rules, are not read again (0.4M
        # wide rows at 10M lines); a workspace keeps them as tasks.parquet
        tactics.tasks = tactics.tasks.clear()
    effect = None
    if arms is not None and responses is not None:
        with timings.measure("effectiveness"):
            effect = effectiveness(
                arms,
                hist.done_customers(as_of),
                responses,
                segments,
                as_of,
                cfg.effectiveness.window_days,
            )

    migration = None
    prev = prev or hist.last_run(as_of)  # with history, --previous is optional
    if prev is not None:
        with timings.measure("migration"):
            migration = compare(
                segments,
                prev,
                tasks=tasks,
                language=cfg.language,
                as_of=as_of.isoformat(),
                task_period=cfg.tasks.period,
            )
            tasks = drop_closed_tasks(tasks, migration)
            zeros = lost_zeros_warning(migration.movers, prev.folder)
            if zeros:
                warnings.append(zeros)
        manifest["migration"] = {"previous": str(prev.folder), **migration.summary()}
        prev = None  # last month's segments and sheets are not read again
    with timings.measure("plan-work"):
        plan = plan_work(
            tasks,
            cfg,
            as_of,
            tactic_priority={t.id: t.priority for t in playbook.tactics},
            previous_owners=hist.customer_owners(as_of),
            reconsider=hist.deferred_before(as_of),
        )
        tasks = plan.issued
        hist.record_plan(plan.issued, plan.deferred)
    manifest_for.add_plan(manifest, plan)

    if save_workspace is not None:
        with timings.measure("workspace"):
            save_workspace()

    with OutputSet(out) as outset:
        with timings.measure("export"):
            warnings += write_outputs(
                outset,
                segments=segments,
                tasks=tasks,
                data_quality=data_quality,
                rejects=rejects,
                summary=manifest,
                cfg=cfg,
                formats=formats,
                deferred=plan.deferred,
            )
            if migration is not None:
                write_migration(outset, migration, cfg, formats)
            if _has_holdout(playbook, cfg):
                write_holdout(outset, tactics.assignments, as_of, cfg)
            if effect is not None:
                write_effectiveness(outset, effect, playbook, cfg, formats)
        if effect is not None:
            manifest["effectiveness"] = effect.manifest()
        elif not isinstance(hist, NoHistory):
            manifest["effectiveness"] = {
                "window_days": cfg.effectiveness.window_days,
                "runs_measured": [],
                "note": "the history holds no earlier run with recorded arms yet",
            }
        hist.stage(manifest)  # the run, pending until the outputs are in place
        manifest["timings"] = dict(timings.seconds)
        manifest_for.add_outputs(manifest, cfg, [*outset.names, MANIFEST])
        outset.path(MANIFEST).write_bytes(dump_manifest(manifest))
        _slow_export_hook()
    hist.commit()
    warnings += hist.warnings
    if outset.removed:
        warnings.append(removed_notice(out, outset.removed))
    return warnings


def _has_holdout(playbook: Any, cfg: Config) -> bool:
    """Whether any tactic keeps a control group (then holdout.csv is written)."""
    return any(
        (cfg.experiments.holdout if t.holdout is None else t.holdout) > 0 for t in playbook.tactics
    )


def removed_notice(out: Path, names: list[str]) -> str:
    """The console line for files of an earlier run that a new run did not write again."""
    return (
        f"removed from {out} the files of the previous run that this run does not write: "
        f"{', '.join(names)}"
    )


def _save_workspace(
    ws: Workspace,
    ingested: IngestResult,
    scores: pl.DataFrame,
    segments: pl.DataFrame,
    tactics: TacticsResult,
    manifest: dict[str, Any],
) -> None:
    """The files ``ingest``, ``score``, ``classify`` and ``assign-tactics`` would leave."""
    from segtool.steps.ingest import rejects_csv_bytes

    with ws.lock():
        ws.save(
            {
                "orders": ingested.orders,
                "contacts": ingested.contacts,
                "scores": scores,
                "segments": segments,
                "tasks": tactics.tasks,
                "data_quality": tactics.data_quality,
                "assignments": tactics.assignments,
            },
            manifest,
            extra_files={"rejects.csv": rejects_csv_bytes(ingested.rejects)},
        )
