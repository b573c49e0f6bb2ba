"""The one manifest builder: what each step adds to manifest.json.

``segtool run`` (:mod:`segtool.pipeline`) and the step commands (:mod:`segtool.commands`)
call the same function after each step, so a run and the same steps run one by one with a
``--workspace`` write the same manifest (apart from ``created`` and ``timings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import datetime as dt

    from segtool.config import Config
    from segtool.steps.capacity import WorkPlan
    from segtool.steps.ingest import IngestResult
    from segtool.steps.tactics import TacticsStats

AS_OF_LATEST = "latest order date"


def as_of_source(text: str | None) -> str:
    """How ``as_of`` was chosen, from the ``--as-of`` text as given (None: not given)."""
    if text is None:
        return AS_OF_LATEST
    return "today" if text.strip().lower() == "today" else "--as-of"


def count_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of ``column``, sorted by value (nulls last)."""
    if column not in frame.columns or frame.height == 0:
        return {}
    counts = frame.group_by(column).len().sort(column, nulls_last=True)
    return {str(k): int(n) for k, n in counts.iter_rows()}


def add_ingest(manifest: dict[str, Any], result: IngestResult, cfg: Config) -> float:
    """Inputs, data quality and the reject rate; returns the rate."""
    from segtool.steps.ingest import reject_rate

    rate = reject_rate(result)
    manifest["inputs"] = [s.as_dict() for s in result.stats]
    manifest["data_quality"] = result.quality
    manifest["reject_rate"] = round(rate, 6)
    manifest["max_reject_rate"] = cfg.limits.max_reject_rate
    return rate


def add_score(
    manifest: dict[str, Any],
    *,
    as_of: dt.date,
    source: str,
    orders_after: int,
    warnings: list[str],
    cfg: Config,
) -> None:
    manifest["as_of"] = as_of.isoformat()
    manifest["as_of_source"] = source
    manifest["task_period"] = cfg.tasks.period  # read back by the next --previous
    manifest["orders_after_as_of"] = orders_after
    manifest["warnings"] = warnings


def add_model(manifest: dict[str, Any], model: dict[str, Any]) -> None:
    manifest["model"] = model


def add_classify(manifest: dict[str, Any], summary: dict[str, Any]) -> None:
    manifest["classify"] = summary
    manifest["customers_per_segment"] = summary["customers_per_segment"]


def add_tactics(manifest: dict[str, Any], stats: TacticsStats, playbook_source: str) -> None:
    manifest["tasks_per_channel"] = stats.tasks_per_channel
    manifest["tactics"] = {
        "playbook": playbook_source,
        **{k: v for k, v in stats.as_dict().items() if k != "tasks_per_channel"},
    }


def add_plan(manifest: dict[str, Any], plan: WorkPlan) -> None:
    """The capacity plan: the tasks issued replace the tactics' counts per channel."""
    manifest["capacity"] = plan.summary()
    manifest["owners"] = plan.owners
    manifest["tasks_per_channel"] = count_by(plan.issued, "channel")


def add_outputs(manifest: dict[str, Any], cfg: Config, names: list[str]) -> None:
    from segtool.io.csv_out import describe

    manifest["csv"] = describe(cfg.export.csv)  # how the CSV files read back
    manifest["outputs"] = sorted(names)
