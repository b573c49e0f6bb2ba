"""The steps in their order, each with what it reads and writes.

``segtool run`` chains them in memory (:mod:`segtool.pipeline`); the step commands run one
each and keep what it writes in the workspace, the cache of step outputs. The workspace's
"run X first" hints and the files an ``ingest`` makes stale are read from this list, and a
test runs the step commands and checks each writes exactly what it declares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str  # the command
    reads: tuple[str, ...]  # workspace files (``.parquet`` unless named with a suffix)
    writes: tuple[str, ...]
    manifest: tuple[str, ...]  # the manifest keys it adds (segtool.manifest builders)


STEPS: tuple[Step, ...] = (
    Step(
        "ingest",
        reads=(),  # the exports named in the config's inputs
        writes=("orders", "contacts", "rejects.csv"),
        manifest=("inputs", "data_quality", "reject_rate", "max_reject_rate"),
    ),
    Step(
        "score",
        reads=("orders", "contacts"),
        writes=("scores",),
        manifest=(
            "as_of",
            "as_of_source",
            "task_period",
            "orders_after_as_of",
            "warnings",
            "model",
        ),
    ),
    Step(
        "classify",
        reads=("scores", "orders"),
        writes=("segments",),
        manifest=("classify", "customers_per_segment"),
    ),
    Step(
        "assign-tactics",
        reads=("segments", "contacts"),
        writes=("tasks", "data_quality", "assignments"),
        manifest=("tactics", "tasks_per_channel"),
    ),
    Step(
        "export",  # history rules, effectiveness, migration, capacity plan, files in --out
        reads=("segments", "tasks", "data_quality", "assignments", "rejects.csv", "orders"),
        writes=(),
        manifest=("capacity", "owners", "csv", "outputs"),
    ),
)

# which step writes each workspace file, for the "run X first" hint
PRODUCED_BY: dict[str, str] = {name: step.name for step in STEPS for name in step.writes}


def written_after(step_name: str) -> tuple[str, ...]:
    """The workspace files the steps after ``step_name`` write (stale once it runs again)."""
    names = [s.name for s in STEPS]
    later = STEPS[names.index(step_name) + 1 :]
    return tuple(name for step in later for name in step.writes)
