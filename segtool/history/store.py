"""The contact history: one SQLite file, its schema, migrations, lock and queries.

Layout (``PRAGMA user_version`` holds the schema version; see docs/history.md):

- ``runs``: one row per run (as_of, output folder, config sha256, state, times);
  ``state`` is ``pending`` while the outputs are being put in place, then ``committed``;
  a committed run re-done for the same as_of or into the same folder becomes ``replaced``.
- ``run_inputs``: the input files of each run with their sha256 and row counts.
- ``tasks``: every task ever issued, one row per task_id, with the run that issued it.
- ``run_tasks``: which tasks were on each run's sheets, with the status shown there.
- ``status_changes``: every status a task took, when, and from which file and row it was read.

Only rows of ``committed`` and ``replaced`` runs count: a ``pending`` run is either
finished (its outputs are in place: the folder's manifest carries its token) or removed by
:meth:`HistoryStore.repair`, so a run killed at any point is never counted twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from segtool.errors import E_HISTORY_READ, E_HISTORY_VERSION, InputError, LockedError, OutputError

SCHEMA_VERSION = 3
LOCK_SUFFIX = ".lock"
COUNTED_STATES = ("committed", "replaced")
CACHE_KIB = 64 * 1024  # the page cache of a connection, at most

# history status codes: the four of the task sheets, and `achieved` (closed because the
# customer ordered after the task was issued; never shown on a sheet)
STATUSES = ("open", "in_progress", "done", "refused", "achieved")
ACTIVE_STATUSES = ("open", "in_progress")

# task columns kept for every issued task (so a carried task is shown as it was issued)
TASK_FIELDS: dict[str, str] = {
    "task_id": "TEXT PRIMARY KEY",
    "customer_id": "TEXT NOT NULL",
    "company_name": "TEXT",
    "contact_name": "TEXT",
    "contact_role": "TEXT",
    "phone": "TEXT",
    "email": "TEXT",
    "address": "TEXT",
    "inmail": "TEXT",
    "channel": "TEXT",
    "segment": "TEXT",
    "abc": "TEXT",
    "priority": "INTEGER",
    "reason": "TEXT",
    "tactic": "TEXT NOT NULL",
    "step": "INTEGER NOT NULL",
    "script": "TEXT",
    "offer": "TEXT",
    "due_date": "TEXT",
    "owner": "TEXT",
    "expected_value": "REAL",
    "issued_run_id": "INTEGER NOT NULL REFERENCES runs(run_id)",
    "issued_as_of": "TEXT NOT NULL",
}

# task columns added after version 1 (stored by the migration that added them)
TASK_FIELDS_ADDED: dict[str, str] = {
    "variant": "TEXT",  # version 2: the variant of the tactic the task was issued in
}

# the task columns that hold text (read back as UTF-8 bytes, see HistoryStore.frame)
TEXT_FIELDS = tuple(
    name for name, kind in {**TASK_FIELDS, **TASK_FIELDS_ADDED}.items() if kind.startswith("TEXT")
)

# forward migrations: MIGRATIONS[n] brings a file from version n-1 to version n
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            token TEXT NOT NULL UNIQUE,
            as_of TEXT NOT NULL,
            out_dir TEXT NOT NULL,
            config_path TEXT,
            config_sha256 TEXT,
            segtool_version TEXT,
            state TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'replaced')),
            replaces_run_id INTEGER REFERENCES runs(run_id),
            replaced_by_run_id INTEGER REFERENCES runs(run_id),
            started_at TEXT NOT NULL,
            committed_at TEXT,
            tasks_shown INTEGER,
            tasks_new INTEGER,
            tasks_carried INTEGER
        )""",
        """CREATE TABLE run_inputs (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            path TEXT NOT NULL,
            kind TEXT,
            sha256 TEXT,
            rows_read INTEGER,
            rows_accepted INTEGER
        )""",
        "CREATE TABLE tasks (\n"
        + ",\n".join(f"    {name} {kind}" for name, kind in TASK_FIELDS.items())
        + "\n)",
        "CREATE INDEX tasks_customer ON tasks (customer_id)",
        """CREATE TABLE run_tasks (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            task_id TEXT NOT NULL REFERENCES tasks(task_id),
            status TEXT NOT NULL,
            carried INTEGER NOT NULL,
            overdue INTEGER NOT NULL,
            PRIMARY KEY (run_id, task_id)
        )""",
        """CREATE TABLE status_changes (
            change_id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks(task_id),
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            status TEXT NOT NULL
                CHECK (status IN ('open', 'in_progress', 'done', 'refused', 'achieved')),
            previous_status TEXT,
            changed_on TEXT NOT NULL,
            source_file TEXT,
            source_row INTEGER
        )""",
        "CREATE INDEX status_changes_task ON status_changes (task_id, change_id)",
        # the current status of each task: its latest change among counted runs
        """CREATE VIEW task_status AS
            SELECT t.*, c.status AS status, c.changed_on AS status_on
            FROM tasks t
            JOIN runs r ON r.run_id = t.issued_run_id AND r.state IN ('committed', 'replaced')
            JOIN status_changes c ON c.change_id = (
                SELECT s.change_id FROM status_changes s
                JOIN runs sr ON sr.run_id = s.run_id
                WHERE s.task_id = t.task_id AND sr.state IN ('committed', 'replaced')
                ORDER BY s.change_id DESC LIMIT 1
            )""",
    ],
    # version 2: control groups and variants (docs/effectiveness.md)
    2: [
        "ALTER TABLE tasks ADD COLUMN variant TEXT",
        # one row per customer and tactic a run's playbook kept for them: the arm they are
        # in (variant code, 'holdout' for the control group, null: a tactic without variants)
        """CREATE TABLE assignments (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            customer_id TEXT NOT NULL,
            tactic TEXT NOT NULL,
            variant TEXT,
            experiment TEXT NOT NULL,
            segment TEXT,
            owner TEXT,
            channel TEXT,
            PRIMARY KEY (run_id, customer_id, tactic)
        )""",
        """CREATE VIEW holdouts AS
            SELECT a.customer_id, a.tactic, r.as_of, a.experiment, a.segment, a.owner, a.run_id
            FROM assignments a JOIN runs r ON r.run_id = a.run_id
            WHERE a.variant = 'holdout' AND r.state IN ('committed', 'replaced')""",
    ],
    # version 3: tasks a run held back because their owner's week was full (deferred.csv),
    # so the next month reconsiders them first and keeps the customer's owner
    3: [
        """CREATE TABLE deferred_tasks (
            run_id INTEGER NOT NULL REFERENCES runs(run_id),
            task_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            tactic TEXT NOT NULL,
            step INTEGER NOT NULL,
            channel TEXT,
            owner TEXT,
            rank INTEGER,
            due_date TEXT,
            expected_value REAL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, task_id)
        )""",
        "CREATE INDEX deferred_tasks_customer ON deferred_tasks (customer_id)",
    ],
}


def now_text() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class RunRow:
    run_id: int
    token: str
    as_of: str
    out_dir: str
    state: str


class HistoryStore:
    """An open, locked, migrated history file. Use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    # -- opening -------------------------------------------------------------------------
    def __enter__(self) -> HistoryStore:
        self._lock()
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _lock(self) -> None:
        import fcntl

        lock_path = self.path.with_name(self.path.name + LOCK_SUFFIX)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # never through a planted symlink: the lock must not touch a file elsewhere
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(
                f"history {self.path}: cannot create its lock file ({exc.strerror}); "
                "choose another history.path or pass --no-history",
                file=self.path,
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"history {self.path}: locked by another segtool run; try again when it has "
                "finished",
                file=self.path,
            ) from None
        self._lock_fd = fd

    def _connect(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
            conn.execute("PRAGMA journal_mode=DELETE")  # one file beside its journal, no WAL
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # a run writes its tasks in one transaction: up to 64 MiB of pages stay in memory
            # (SQLite's default, 2 MiB, spills and re-reads index pages many times over)
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InputError(
                f"history {self.path}: not a segtool history file ({exc}); move it away or "
                "pass --history with another file",
                code=E_HISTORY_READ,
                file=self.path,
            ) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise InputError(
                f"history {self.path}: written by a newer segtool (schema version {version}, "
                f"this segtool reads up to {SCHEMA_VERSION}); upgrade segtool or pass "
                "--history with another file",
                code=E_HISTORY_VERSION,
                file=self.path,
            )
        self.conn = conn
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as db:
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE), committed on success."""
        assert self.conn is not None, "history store is not open"
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @property
    def db(self) -> sqlite3.Connection:
        assert self.conn is not None, "history store is not open"
        return self.conn

    # -- runs ----------------------------------------------------------------------------
    def runs(self, states: tuple[str, ...] = COUNTED_STATES) -> list[RunRow]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT run_id, token, as_of, out_dir, state FROM runs WHERE state IN ({marks}) "
            "ORDER BY as_of, run_id",
            states,
        ).fetchall()
        return [RunRow(*row) for row in rows]

    def latest_run(
        self, *, as_of: str | None = None, exclude_dir: str | None = None, before: bool = False
    ) -> RunRow | None:
        """The latest committed run (by as_of, then run id), optionally at or before
        ``as_of`` (strictly before with ``before``) and not written into ``exclude_dir``."""
        found = None
        for run in self.runs(("committed",)):
            if as_of is not None and (run.as_of > as_of or (before and run.as_of == as_of)):
                continue
            if exclude_dir is not None and run.out_dir == exclude_dir:
                continue
            found = run
        return found

    def repair(self) -> list[str]:
        """Finish or remove runs left ``pending`` by a run that was killed.

        A pending run whose output folder's manifest carries its token had its outputs put
        in place: it is marked committed (and what it replaces, replaced). Any other pending
        run never reached its outputs: its rows are deleted. Returns one line per run.
        """
        notes = []
        for run in self.runs(("pending",)):
            if manifest_token(Path(run.out_dir)) == run.token:
                self.mark_committed(run.run_id)
                notes.append(
                    f"history: run {run.run_id} (as of {run.as_of}, {run.out_dir}) was "
                    "interrupted after its outputs were written; recorded it as complete"
                )
            else:
                self.discard(run.run_id)
                notes.append(
                    f"history: run {run.run_id} (as of {run.as_of}, {run.out_dir}) was "
                    "interrupted before its outputs were written; removed it from history"
                )
        return notes

    def discard(self, run_id: int) -> None:
        """Delete a pending run and everything it wrote."""
        with self.transaction() as db:
            db.execute("DELETE FROM status_changes WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM run_tasks WHERE run_id = ?", (run_id,))
            db.execute(
                "DELETE FROM status_changes WHERE task_id IN "
                "(SELECT task_id FROM tasks WHERE issued_run_id = ?)",
                (run_id,),
            )
            db.execute("DELETE FROM tasks WHERE issued_run_id = ?", (run_id,))
            db.execute("DELETE FROM run_inputs WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM assignments WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM deferred_tasks WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE run_id = ? AND state = 'pending'", (run_id,))

    def mark_committed(self, run_id: int) -> None:
        with self.transaction() as db:
            replaces = db.execute(
                "SELECT replaces_run_id, as_of, out_dir FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            db.execute(
                "UPDATE runs SET state = 'replaced', replaced_by_run_id = ? "
                "WHERE state = 'committed' AND run_id <> ? AND (as_of = ? OR out_dir = ?)",
                (run_id, run_id, replaces[1], replaces[2]),
            )
            db.execute(
                "UPDATE runs SET state = 'committed', committed_at = ? WHERE run_id = ?",
                (now_text(), run_id),
            )

    # -- reading state -------------------------------------------------------------------
    def frame(
        self, sql: str, params: tuple[Any, ...] = (), *, text: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """The rows of a query as a frame, built column by column. The columns named in
        ``text`` are selected as ``CAST(... AS BLOB)`` by ``sql`` (UTF-8 bytes: cheaper to
        fetch than Python strings) and come back as String."""
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        chunks = []
        # FETCH_CHUNK rows at a time: a month's open tasks at 10M order lines as Python
        # values all at once (and transposed) took about a gigabyte
        while rows := cursor.fetchmany(FETCH_CHUNK):
            chunks.append(
                pl.DataFrame(
                    [
                        pl.Series(name, values, dtype=pl.Binary).cast(pl.String)
                        if name in text
                        else _series(name, values)
                        for name, values in zip(names, zip(*rows, strict=True), strict=True)
                    ]
                )
            )
            del rows
        if not chunks:
            return pl.DataFrame(schema={n: pl.String for n in names})
        return chunks[0] if len(chunks) == 1 else pl.concat(chunks, how="vertical_relaxed")

    def known_tasks(self, since: str, as_of: str, out_dir: str) -> pl.DataFrame:
        """Tasks still open or in progress, those whose status dates from ``since`` on
        (cooldowns) or that were issued from ``since`` on, and those on the sheets of the
        run this one replaces (same as_of or same folder): ``on_sheet``."""
        text = (*TEXT_FIELDS, "status", "status_on")
        columns = [f"CAST(s.{c} AS BLOB) AS {c}" for c in text]
        columns += [f"s.{c}" for c in (*TASK_FIELDS, *TASK_FIELDS_ADDED) if c not in text]
        return self.frame(
            f"SELECT {', '.join(columns)}, s.task_id IN (SELECT rt.task_id FROM run_tasks rt "
            "JOIN runs r ON r.run_id = rt.run_id WHERE r.state = 'committed' AND (r.as_of = ? "
            "OR r.out_dir = ?)) AS on_sheet FROM task_status s "
            "WHERE s.status IN ('open', 'in_progress') OR s.status_on >= ? "
            "OR s.issued_as_of >= ? OR on_sheet",
            (as_of, out_dir, since, since),
            text=text,
        )

    def customer_owners(self, as_of: str) -> pl.DataFrame:
        """customer_id, owner: each customer's owner in the latest counted run at or before
        ``as_of`` that issued or deferred a task for them."""
        found = self.frame(
            "SELECT x.customer_id, x.owner, r.as_of, r.run_id FROM ("
            "SELECT customer_id, owner, issued_run_id AS run_id FROM tasks "
            "UNION ALL SELECT customer_id, owner, run_id FROM deferred_tasks) x "
            "JOIN runs r ON r.run_id = x.run_id "
            "WHERE r.state IN ('committed', 'replaced') AND r.as_of <= ? "
            "AND x.owner IS NOT NULL",
            (as_of,),
        )
        if found.height == 0:
            return pl.DataFrame(schema={"customer_id": pl.String, "owner": pl.String})
        return (
            found.sort("as_of", "run_id")
            .group_by("customer_id")
            .agg(pl.col("owner").last())
            .select(pl.col("customer_id").cast(pl.String), pl.col("owner").cast(pl.String))
        )

    def deferred_before(self, as_of: str) -> pl.DataFrame:
        """customer_id, tactic, step of the tasks the latest counted run before ``as_of``
        deferred (over capacity)."""
        found = self.frame(
            "SELECT d.customer_id, d.tactic, d.step FROM deferred_tasks d WHERE d.run_id = ("
            "SELECT run_id FROM runs WHERE state IN ('committed', 'replaced') AND as_of < ? "
            "ORDER BY as_of DESC, run_id DESC LIMIT 1)",
            (as_of,),
        )
        return found.select(
            pl.col("customer_id").cast(pl.String),
            pl.col("tactic").cast(pl.String),
            pl.col("step").cast(pl.Int32),
        )

    def task_status_rows(
        self, columns: str, task_ids: list[str], issued_before: str | None = None
    ) -> pl.DataFrame:
        """``columns`` of task_status for ``task_ids`` (issued before ``issued_before``),
        500 ids per query (SQLite's limit on bound values)."""
        before = "" if issued_before is None else "issued_as_of < ? AND "
        frames = [
            self.frame(
                f"SELECT {columns} FROM task_status WHERE {before}"
                f"task_id IN ({','.join('?' * len(chunk))})",
                (*([issued_before] if issued_before else []), *chunk),
            )
            for chunk in (task_ids[i : i + 500] for i in range(0, len(task_ids), 500))
        ]
        frames = [f for f in frames if f.height]
        if not frames:
            return pl.DataFrame(schema={c.strip(): pl.String for c in columns.split(",")})
        return pl.concat(frames, how="vertical_relaxed")

    def statuses_of(self, task_ids: list[str]) -> dict[str, str]:
        rows = self.task_status_rows("task_id, status", task_ids)
        return dict(rows.iter_rows())


FETCH_CHUNK = 50_000  # query rows turned into Python values at a time


def _series(name: str, values: tuple[Any, ...]) -> pl.Series:
    """One column of query results, typed as a row-wise frame would type it (the values'
    common type; SQLite may hold values of several types in one column)."""
    try:
        return pl.Series(name, values)
    except (TypeError, pl.exceptions.PolarsError):
        frame = pl.DataFrame(
            [(v,) for v in values], schema=[name], orient="row", infer_schema_length=None
        )
        return frame.to_series()


def manifest_token(folder: Path) -> str | None:
    """The history token recorded in a folder's manifest.json, if any."""
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    history = data.get("history") if isinstance(data, dict) else None
    return history.get("run_token") if isinstance(history, dict) else None


# -- what `segtool history` shows ------------------------------------------------------------
def contact_log(store: HistoryStore, customer_id: str) -> dict[str, Any]:
    """A customer's tasks (counted runs only), each with its status changes in order."""
    tasks = store.frame(
        "SELECT task_id, tactic, step, channel, contact_name, due_date, issued_as_of, "
        "status, status_on FROM task_status WHERE customer_id = ? "
        "ORDER BY issued_as_of, tactic, step",
        (customer_id,),
    )
    changes = store.frame(
        "SELECT c.task_id, c.status, c.previous_status, c.changed_on, c.source_file, "
        "c.source_row, r.as_of AS run_as_of FROM status_changes c "
        "JOIN runs r ON r.run_id = c.run_id AND r.state IN ('committed', 'replaced') "
        "JOIN tasks t ON t.task_id = c.task_id WHERE t.customer_id = ? ORDER BY c.change_id",
        (customer_id,),
    )
    company = store.db.execute(
        "SELECT company_name FROM tasks WHERE customer_id = ? ORDER BY issued_as_of DESC LIMIT 1",
        (customer_id,),
    ).fetchone()
    by_task: dict[str, list[dict[str, Any]]] = {}
    for change in changes.to_dicts():
        by_task.setdefault(change.pop("task_id"), []).append(change)
    return {
        "customer_id": customer_id,
        "company_name": company[0] if company else None,
        "tasks": [
            {**task, "changes": by_task.get(task["task_id"], [])} for task in tasks.to_dicts()
        ],
    }


def store_summary(store: HistoryStore) -> dict[str, Any]:
    """Runs (newest last) and counted tasks by status, with the schema version."""
    runs = store.frame(
        "SELECT run_id, as_of, out_dir, state, replaces_run_id, committed_at, tasks_shown, "
        "tasks_new, tasks_carried FROM runs ORDER BY as_of, run_id"
    )
    by_status = store.db.execute(
        "SELECT status, count(*) FROM task_status GROUP BY status ORDER BY status"
    ).fetchall()
    customers = store.db.execute("SELECT count(DISTINCT customer_id) FROM task_status").fetchone()
    return {
        "path": str(store.path),
        "schema_version": store.db.execute("PRAGMA user_version").fetchone()[0],
        "runs": runs.to_dicts(),
        "tasks_by_status": {status: n for status, n in by_status},
        "customers": customers[0],
    }
