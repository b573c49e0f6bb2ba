"""One run's use of the history: open and lock it, read statuses back, apply the rules,
and record the run in the same moment its outputs are put in place.

How a run uses it (see :func:`segtool.pipeline.run_pipeline`)::

    with open_history(cfg, path, enabled=True, out=out, previous=previous) as history:
        ...                                   # ingest, score, classify, assign-tactics
        tasks = history.apply(tasks, segments, playbook, as_of)
        prev = prev or history.last_run(as_of)   # the migration report's previous run
        with OutputSet(out) as outset:        # outputs staged
            ...
            history.stage(manifest)           # pending run written, token in the manifest
        history.commit()                      # outputs in place: the run counts

A SIGKILL between :meth:`HistorySession.stage` and :meth:`HistorySession.commit` leaves a
``pending`` run; the next run's :meth:`~segtool.history.store.HistoryStore.repair` counts
it if the output folder's manifest carries its token, else removes it.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from segtool.config import Config
from segtool.history.rules import KNOWN_SCHEMA, RulesResult, apply_history, step_days_of
from segtool.history.sheets import EMPTY, read_folder_statuses, task_sheet_files
from segtool.history.store import (
    TASK_FIELDS,
    TASK_FIELDS_ADDED,
    HistoryStore,
    manifest_token,
    now_text,
)
from segtool.io.previous import PreviousRun
from segtool.playbook import Playbook
from segtool.steps.tactics import TASK_COLUMNS


def history_path(cfg: Config, override: Path | None, enabled: bool = True) -> Path | None:
    """The history file of this run: ``--history``, else ``history.path`` (relative to
    the config file); None with ``--no-history`` or ``history.path: null``."""
    if not enabled:
        return None
    if override is not None:
        return Path(override)
    if not cfg.history.path:
        return None
    return cfg.resolve(cfg.history.path)


def _typed_known(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=KNOWN_SCHEMA)
    exprs = []
    for name, dtype in KNOWN_SCHEMA.items():
        col = pl.col(name)
        if dtype == pl.Date:
            col = col.cast(pl.String).str.to_date("%Y-%m-%d", strict=False)
        elif dtype == pl.Boolean:
            col = col.cast(pl.Int64).cast(pl.Boolean)
        exprs.append(col.cast(dtype).alias(name))
    return frame.select(exprs)


INSERT_CHUNK = 50_000  # rows turned into Python values at a time


def _insert(
    db: sqlite3.Connection,
    table: str,
    frame: pl.DataFrame,
    *,
    where: pl.Expr | None = None,
    columns: list[pl.Expr] | None = None,
    order_by: list[str] | None = None,
    same: dict[str, int | str] | None = None,
    or_ignore: bool = False,
) -> int:
    """Insert the rows of ``frame`` where ``where`` holds (all by default), as ``columns``
    (expressions named as the table's columns; the frame's columns by default), in their
    order or sorted by ``order_by`` (stable), with the values ``same`` for every row;
    returns how many rows went in.

    The tuples are built column by column, INSERT_CHUNK rows at a time, gathered through
    an index of the chosen rows: at 10M order lines a month's 345k task rows as Python
    values at once took ~0.7 GB, and a filtered or sorted copy of the task frame up to
    0.4 GB more. What is the same in every row is written into the statement, and a column
    null throughout is left to the table's default (NULL): binding a value to each row is
    what costs most."""
    chosen = pl.lit(True) if where is None else where
    exprs = columns if columns is not None else [pl.col(c) for c in frame.columns]
    present = frame.select([(e.is_not_null() & chosen).any() for e in exprs]).row(0)
    wanted = [e for e, has in zip(exprs, present, strict=True) if has]
    names = [e.meta.output_name() for e in wanted]
    fixed = {name: _literal(value) for name, value in (same or {}).items()}
    verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
    index = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), *(order_by or []), _keep=chosen
    ).filter(pl.col("_keep"))
    if order_by:
        index = index.sort(order_by, maintain_order=True)
    order = index.get_column("_row")
    if order.len() == 0:
        return 0

    def rows() -> Iterator[tuple[Any, ...]]:
        for start in range(0, order.len(), INSERT_CHUNK):
            at = order.slice(start, INSERT_CHUNK)
            part = frame.select([e.gather(at) for e in wanted])
            yield from zip(*(part.get_column(name).to_list() for name in names), strict=True)

    before = db.total_changes
    db.executemany(
        f"{verb} INTO {table} ({', '.join([*names, *fixed])}) "
        f"VALUES ({', '.join(['?'] * len(names) + list(fixed.values()))})",
        rows(),
    )
    return db.total_changes - before


def _literal(value: int | str) -> str:
    """An integer or a text as an SQL literal."""
    if isinstance(value, int):
        return str(int(value))
    if "\x00" in value:
        raise ValueError("an SQL text literal cannot hold NUL")
    return "'" + value.replace("'", "''") + "'"


class NoHistory:
    """What a run does without a history: nothing."""

    def __init__(self, warnings: list[str] | None = None):
        self.warnings = list(warnings or [])

    def __enter__(self) -> NoHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def last_run(self, as_of: dt.date) -> PreviousRun | None:
        return None

    def apply(
        self, tasks: pl.DataFrame, segments: pl.DataFrame, playbook: Playbook, as_of: dt.date
    ) -> pl.DataFrame:
        return tasks

    def customer_owners(self, as_of: dt.date) -> pl.DataFrame:
        return pl.DataFrame(schema={"customer_id": pl.String, "owner": pl.String})

    def deferred_before(self, as_of: dt.date) -> pl.DataFrame:
        return pl.DataFrame(
            schema={"customer_id": pl.String, "tactic": pl.String, "step": pl.Int32}
        )

    def record_plan(self, issued: pl.DataFrame, deferred: pl.DataFrame) -> None:
        return None

    def stage(self, manifest: dict[str, Any]) -> None:
        return None

    def record_assignments(self, assignments: pl.DataFrame, experiment: str) -> None:
        return None

    def earlier_arms(self, as_of: dt.date) -> pl.DataFrame | None:
        return None

    def done_customers(self, as_of: dt.date) -> pl.DataFrame | None:
        return None

    def commit(self) -> None:
        return None


class HistorySession:
    """The history as one run uses it (locked for the whole run)."""

    def __init__(self, cfg: Config, path: Path, *, out: Path, previous: Path | None):
        self.cfg = cfg
        self.path = Path(path)
        self.out = Path(out).resolve()
        self.previous = Path(previous).resolve() if previous is not None else None
        self.store = HistoryStore(self.path)
        self.warnings: list[str] = []
        self.as_of: dt.date | None = None
        self.result: RulesResult | None = None
        self.changes = pl.DataFrame()
        self.sources: list[str] = []
        self.unknown_ids = 0
        self.run_id: int | None = None
        self.token: str | None = None
        self.committed = False
        self.seconds = 0.0
        self.assignments: pl.DataFrame | None = None
        self.experiment = ""
        self.deferred = pl.DataFrame()

    def __enter__(self) -> HistorySession:
        self.store.__enter__()
        try:
            self.warnings += self.store.repair()
        except BaseException:
            self.store.close()
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self.run_id is not None and not self.committed:
                # interrupted after staging: the outputs decide whether the run counts
                if manifest_token(self.out) == self.token:
                    self.store.mark_committed(self.run_id)
                else:
                    self.store.discard(self.run_id)
        finally:
            self.store.close()

    # -- the migration report ---------------------------------------------------------------
    def last_run(self, as_of: dt.date) -> PreviousRun | None:
        """The last run before ``as_of`` (read as ``--previous`` would be), for the
        migration report; None when there is none or its folder cannot be read."""
        from segtool.errors import SegtoolError
        from segtool.io.previous import read_previous

        run = self.store.latest_run(as_of=as_of.isoformat(), exclude_dir=str(self.out), before=True)
        if run is None:
            return None
        try:
            return read_previous(Path(run.out_dir), self.cfg)
        except SegtoolError as exc:
            self.warnings.append(f"history: no migration report against the last run: {exc}")
            return None

    # -- the rules -------------------------------------------------------------------------
    def _read_statuses(self, as_of: dt.date) -> pl.DataFrame:
        """Statuses from ``--previous``, the latest run's folder and this run's own folder
        (a re-run), later sources winning per task. ``_current`` is False for rows read
        only from a ``--previous`` that is not the latest run: they may not reopen a task
        the history has closed since."""
        folders: list[tuple[Path, bool]] = []
        if self.previous is not None:
            folders.append((self.previous, False))
        latest = self.store.latest_run(as_of=as_of.isoformat())
        if latest is not None and Path(latest.out_dir).is_dir():
            folders.append((Path(latest.out_dir), True))
        elif latest is not None:
            self.warnings.append(
                f"history: the last run's folder {latest.out_dir} is gone; no statuses read "
                "back from it (tasks keep the statuses the history has)"
            )
        if task_sheet_files(self.out):
            folders.append((self.out, True))
        current = {folder for folder, is_current in folders if is_current}
        frames = []
        for folder in dict.fromkeys(folder for folder, _ in folders):
            read = read_folder_statuses(folder)
            self.sources += read.files
            self.warnings += read.problems
            frames.append(read.statuses.with_columns(pl.lit(folder in current).alias("_current")))
        if not frames:
            return EMPTY.with_columns(pl.lit(True).alias("_current"))
        return pl.concat(frames).unique("task_id", keep="last", maintain_order=True)

    def apply(
        self, tasks: pl.DataFrame, segments: pl.DataFrame, playbook: Playbook, as_of: dt.date
    ) -> pl.DataFrame:
        """This run's tasks with the history rules applied (see :mod:`.rules`)."""
        started = time.perf_counter()
        self.as_of = as_of
        hcfg = self.cfg.history
        since = pl.select(
            pl.lit(as_of).dt.offset_by(
                f"-{max(hcfg.done_cooldown_months, hcfg.refused_cooldown_months) + 1}mo"
            )
        ).item()
        known = _typed_known(
            self.store.known_tasks(since.isoformat(), as_of.isoformat(), str(self.out))
        )
        read = self._read_statuses(as_of)
        matched = read.join(
            known.select("task_id", "issued_as_of", pl.col("status").alias("_was")),
            on="task_id",
            how="inner",
        )
        # when: the day the sheet was saved, within [issued, as_of]
        changes = matched.filter(
            (pl.col("status") != pl.col("_was"))
            & (pl.col("_was") != "achieved")
            & (pl.col("_current") | pl.col("_was").is_in(["open", "in_progress"]))
        ).with_columns(
            pl.min_horizontal(pl.max_horizontal("saved_on", "issued_as_of"), pl.lit(as_of)).alias(
                "changed_on"
            )
        )
        self.changes = changes.select(
            "task_id",
            "status",
            pl.col("_was").alias("previous_status"),
            "changed_on",
            "source_file",
            "source_row",
        )
        known = (
            known.join(
                self.changes.select(
                    "task_id", pl.col("status").alias("_new"), pl.col("changed_on").alias("_on")
                ),
                on="task_id",
                how="left",
            )
            .with_columns(
                pl.coalesce("_new", "status").alias("status"),
                pl.coalesce("_on", "status_on").alias("status_on"),
            )
            .drop("_new", "_on")
        )
        last_orders = (
            segments.select("customer_id", pl.col("last_order_date").cast(pl.Date))
            if "last_order_date" in segments.columns
            else pl.DataFrame(schema={"customer_id": pl.String, "last_order_date": pl.Date})
        )
        self.result = apply_history(
            tasks,
            known,
            last_orders,
            step_days_of(playbook),
            as_of=as_of,
            done_cooldown_months=hcfg.done_cooldown_months,
            refused_cooldown_months=hcfg.refused_cooldown_months,
        )
        self._adopt(read, known, tasks, as_of)
        if self.unknown_ids:
            self.warnings.append(
                f"history: {self.unknown_ids} task rows in the sheets read are not in "
                f"{self.path.name} (written without history?); their statuses were not recorded"
            )
        self.seconds += time.perf_counter() - started
        return self.result.tasks.drop("_carried")

    def _adopt(
        self, read: pl.DataFrame, known: pl.DataFrame, issued: pl.DataFrame, as_of: dt.date
    ) -> None:
        """Sheet rows the history does not know that are tasks this run issues (same task
        id: a sheet of this period written without history, e.g. before the history existed)
        keep the status the team gave them, and stay on the sheet even where the rules would
        hold them back (a later sequence step): the team's marks are not reset to open."""
        assert self.result is not None
        unknown = read.join(known.select("task_id"), on="task_id", how="anti")
        adopted = unknown.join(issued.select("task_id"), on="task_id", how="inner")
        self.unknown_ids = unknown.height - adopted.height
        adopted = adopted.filter(pl.col("status") != "open")
        if adopted.height == 0:
            return
        result = self.result.tasks
        marks = adopted.select("task_id", pl.col("status").alias("_sheet"))
        missing = issued.join(marks, on="task_id", how="inner").join(
            result.select("task_id"), on="task_id", how="anti"
        )
        back = missing.select(
            *[pl.col(c) for c in TASK_COLUMNS],
            pl.lit(as_of, dtype=pl.Date).alias("issued_on"),
            pl.lit(False).alias("overdue"),
            pl.lit(False).alias("_carried"),
        )
        self.result.tasks = (
            pl.concat([result, back], how="vertical_relaxed")
            .join(marks, on="task_id", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_sheet", "status").alias("status"))
            .with_columns(pl.col("overdue") & pl.col("status").is_in(["open", "in_progress"]))
            .drop("_sheet")
        )
        self.result.counts["new"] = int((~self.result.tasks["_carried"]).sum())
        self.result.counts["statuses_kept_from_earlier_sheets"] = adopted.height
        self.changes = pl.concat(
            [
                self.changes,
                adopted.select(
                    "task_id",
                    "status",
                    pl.lit("open").alias("previous_status"),
                    pl.lit(as_of).alias("changed_on"),
                    "source_file",
                    "source_row",
                ),
            ],
            how="vertical_relaxed",
        )

    # -- control groups and variants (docs/effectiveness.md) -------------------------------
    def record_assignments(self, assignments: pl.DataFrame, experiment: str) -> None:
        """The arms of this run's (customer, tactic) pairs, recorded by :meth:`stage`."""
        self.assignments = assignments
        self.experiment = experiment

    def earlier_arms(self, as_of: dt.date) -> pl.DataFrame | None:
        """The arms of the runs before ``as_of`` (see :func:`read_arms`)."""
        from segtool.steps.effectiveness import read_arms

        return read_arms(self.store, as_of)

    def done_customers(self, as_of: dt.date) -> pl.DataFrame | None:
        """Customers whose task of an earlier run is done, with the statuses this run read
        back (call after :meth:`apply`; see :func:`read_done`)."""
        from segtool.steps.effectiveness import read_done

        return read_done(self.store, as_of, self.changes)

    # -- owners and capacity (segtool.steps.capacity) --------------------------------------
    def customer_owners(self, as_of: dt.date) -> pl.DataFrame:
        """customer_id, owner in the latest run at or before ``as_of`` (sticky owners);
        none to read when no team is balanced (only ``owners.assign: balanced`` with a
        ``owners.team`` keeps a customer's owner, see :mod:`segtool.steps.capacity`)."""
        if not self.cfg.owners.team or self.cfg.owners.assign != "balanced":
            return pl.DataFrame(schema={"customer_id": pl.String, "owner": pl.String})
        return self.store.customer_owners(as_of.isoformat())

    def deferred_before(self, as_of: dt.date) -> pl.DataFrame:
        """customer_id, tactic, step deferred by the last run before ``as_of``."""
        return self.store.deferred_before(as_of.isoformat())

    def record_plan(self, issued: pl.DataFrame, deferred: pl.DataFrame) -> None:
        """The tasks the capacity plan issued (owners and due dates as planned) replace the
        rules' result; the deferred ones are recorded apart (not on any sheet)."""
        if self.result is None:
            return
        planned = issued.select(
            "task_id", pl.col("owner").alias("_owner"), pl.col("due_date").alias("_due")
        )
        self.result.tasks = (
            self.result.tasks.join(deferred.select("task_id"), on="task_id", how="anti")
            .join(planned, on="task_id", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce("_owner", "owner").alias("owner"),
                pl.coalesce("_due", "due_date").alias("due_date"),
            )
            .drop("_owner", "_due")
        )
        self.result.counts["new"] = int((~self.result.tasks["_carried"]).sum())
        self.result.counts["deferred"] = deferred.height
        self.deferred = deferred

    # -- recording -------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        counts = dict(self.result.counts) if self.result is not None else {}
        changed = (
            self.changes.group_by("status").len().sort("status").rows()
            if self.changes.height
            else []
        )
        return {
            "path": str(self.path),
            "run_id": self.run_id,
            "run_token": self.token,
            "statuses_read_from": self.sources,
            "status_changes": {status: n for status, n in changed},
            "unknown_task_rows": self.unknown_ids,
            "seconds": round(self.seconds, 3),
            **counts,
        }

    def _status_changes(self) -> pl.DataFrame:
        """The status_changes rows of this run besides the issued ones: what the sheets
        changed, then the tasks closed as achieved or on a refused channel; sorted by task,
        a task's rows in that order."""
        assert self.result is not None and self.as_of is not None
        as_of = self.as_of.isoformat()
        text, day = pl.String, pl.col("changed_on").cast(pl.String)
        parts = [
            self.changes.select(
                "task_id",
                pl.col("status").cast(text),
                pl.col("previous_status").cast(text),
                day,
                pl.col("source_file").cast(text),
                pl.col("source_row").cast(pl.Int64),
            ),
            self.result.achieved.select(
                "task_id",
                pl.lit("achieved").alias("status"),
                pl.col("status").cast(text).alias("previous_status"),
                pl.lit(as_of).alias("changed_on"),
                pl.lit(None, dtype=text).alias("source_file"),
                pl.lit(None, dtype=pl.Int64).alias("source_row"),
            ),
            self.result.also_refused.select(
                "task_id",
                pl.lit("refused").alias("status"),
                pl.col("status").cast(text).alias("previous_status"),
                day,
                pl.lit("refused channel").alias("source_file"),
                pl.lit(None, dtype=pl.Int64).alias("source_row"),
            ),
        ]
        return (
            pl.concat(
                [part.with_columns(pl.lit(n).alias("_part")) for n, part in enumerate(parts)],
                how="vertical_relaxed",
            )
            .sort("task_id", "_part", maintain_order=True)
            .select(
                "task_id",
                "status",
                "previous_status",
                "changed_on",
                "source_file",
                "source_row",
            )
        )

    def stage(self, manifest: dict[str, Any]) -> None:
        """Write this run as ``pending`` in one transaction and put its token in the
        manifest; call it with the outputs staged, before they are moved into place."""
        if self.result is None or self.as_of is None:
            return
        from segtool import __version__

        started = time.perf_counter()
        self.token = uuid.uuid4().hex
        tasks = self.result.tasks
        as_of = self.as_of.isoformat()
        fields = [f for f in TASK_FIELDS if f not in ("issued_run_id", "issued_as_of")]
        fields += [f for f in TASK_FIELDS_ADDED if f in tasks.columns]
        is_new = ~pl.col("_carried")
        n_new = int(tasks.select(is_new.sum()).item())
        new_columns = [
            pl.col(f).cast(pl.Int64)
            if f == "priority"
            else pl.col(f).cast(pl.String)
            if f == "due_date"
            else pl.col(f)
            for f in fields
        ]
        with self.store.transaction() as db:
            replaced = db.execute(
                "SELECT max(run_id) FROM runs WHERE state = 'committed' "
                "AND (as_of = ? OR out_dir = ?)",
                (as_of, str(self.out)),
            ).fetchone()[0]
            cursor = db.execute(
                "INSERT INTO runs (token, as_of, out_dir, config_path, config_sha256, "
                "segtool_version, state, replaces_run_id, started_at, tasks_shown, tasks_new, "
                "tasks_carried) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                (
                    self.token,
                    as_of,
                    str(self.out),
                    str(self.cfg.source_path or ""),
                    self.cfg.source_sha256,
                    __version__,
                    replaced,
                    now_text(),
                    tasks.height,
                    n_new,
                    tasks.height - n_new,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO run_inputs (run_id, path, kind, sha256, rows_read, rows_accepted) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        i.get("path"),
                        i.get("kind"),
                        i.get("sha256"),
                        i.get("rows_read"),
                        i.get("rows_accepted"),
                    )
                    for i in manifest.get("inputs", [])
                ],
            )
            # rows go in sorted by their key: the index B-trees are appended to in order
            # a task id issued by an earlier run (re-run in the same period) keeps its row
            first_new = db.execute("SELECT coalesce(max(rowid), 0) FROM tasks").fetchone()[0]
            same: dict[str, int | str] = {"run_id": run_id}
            added = _insert(
                db,
                "tasks",
                tasks,
                where=is_new,
                columns=new_columns,
                order_by=["task_id"],
                same={"issued_run_id": run_id, "issued_as_of": as_of},
                or_ignore=True,
            )
            # a new task's first status (the rows inserted above), then what the sheets and
            # the rules changed (a task's changes in this order: issued, read, closed)
            issued = {**same, "status": "open", "changed_on": as_of, "source_file": "issued"}
            if added == n_new:
                _insert(
                    db,
                    "status_changes",
                    tasks,
                    where=is_new,
                    columns=[pl.col("task_id")],
                    order_by=["task_id"],
                    same=issued,
                )
            else:  # a re-run: the task ids issued before keep their rows
                db.execute(
                    "INSERT INTO status_changes (task_id, run_id, status, previous_status, "
                    "changed_on, source_file, source_row) SELECT task_id, ?, 'open', NULL, ?, "
                    "'issued', NULL FROM tasks WHERE rowid > ? ORDER BY task_id",
                    (run_id, as_of, first_new),
                )
            _insert(db, "status_changes", self._status_changes(), same=same)
            _insert(
                db,
                "run_tasks",
                tasks.select(
                    "task_id",
                    "status",
                    pl.col("_carried").cast(pl.Int64).alias("carried"),
                    pl.col("overdue").cast(pl.Int64),
                ),
                order_by=["task_id"],
                same=same,
            )
            if self.assignments is not None:
                _insert(
                    db,
                    "assignments",
                    self.assignments.select(
                        "customer_id",
                        "tactic",
                        "variant",
                        pl.lit(self.experiment).alias("experiment"),
                        "segment",
                        "owner",
                        "channel",
                    ),
                    order_by=["customer_id", "tactic"],
                    same=same,
                    or_ignore=True,
                )
            if self.deferred.height:
                _insert(
                    db,
                    "deferred_tasks",
                    self.deferred.select(
                        "task_id",
                        "customer_id",
                        "tactic",
                        "step",
                        "channel",
                        "owner",
                        "rank",
                        pl.col("due_date").cast(pl.String),
                        "expected_value",
                        pl.col("deferred_reason").alias("reason"),
                    ),
                    order_by=["task_id"],
                    same=same,
                    or_ignore=True,
                )
        self.run_id = run_id
        self.seconds += time.perf_counter() - started
        manifest["history"] = self.summary()

    def commit(self) -> None:
        """The outputs are in place: the run counts (and replaces what it re-did)."""
        if self.run_id is not None and not self.committed:
            self.store.mark_committed(self.run_id)
            self.committed = True


def open_history(
    cfg: Config, override: Path | None, *, enabled: bool, out: Path, previous: Path | None
) -> HistorySession | NoHistory:
    """The history session of a run (a null object when history is off)."""
    path = history_path(cfg, override, enabled)
    if path is None:
        return NoHistory()
    chosen = override is not None or "path" in cfg.history.model_fields_set
    if not chosen and not path.exists() and not os.access(path.parent, os.W_OK):
        # the default place, next to a config in a read-only folder: run, and say so
        return NoHistory(
            [
                f"history: {path.parent} is not writable, so this run is not recorded and "
                "statuses were not read back; set history.path (or --history) to a writable file"
            ]
        )
    return HistorySession(cfg, path, out=out, previous=previous)
