"""`segtool run`: the monthly job in one process (see :mod:`segtool.pipeline`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from segtool import console
from segtool.commands import load, parse_as_of
from segtool.errors import E_USAGE_FORMAT, SegtoolError
from segtool.manifest import as_of_source
from segtool.report import InputStats

FORMATS = ("xlsx", "csv")


def parse_formats(value: str | None, default: Sequence[str]) -> set[str]:
    """``--format xlsx,csv`` (default: the config's export.formats)."""
    if value is None:
        return set(default)
    chosen = {part.strip().lower() for part in value.split(",") if part.strip()}
    unknown = sorted(chosen - set(FORMATS))
    if unknown or not chosen:
        raise SegtoolError(
            f"--format {value!r}: expected xlsx, csv or xlsx,csv", code=E_USAGE_FORMAT
        )
    return chosen


def _counts(mapping: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items() if v) or "none"


def summary_lines(manifest: dict, out: Path) -> list[str]:
    """The short human summary printed to stderr."""
    lines = [f"as of {manifest['as_of']}"]
    for item in manifest.get("inputs", []):  # the same line `segtool ingest` prints
        lines.append(
            InputStats(**{k: item[k] for k in InputStats.__dataclass_fields__ if k in item}).line()
        )
    segments = manifest.get("customers_per_segment", {})
    lines.append(f"customers: {sum(segments.values())} ({_counts(segments)})")
    channels = manifest.get("tasks_per_channel", {})
    lines.append(f"tasks: {sum(channels.values())} ({_counts(channels)})")
    model = manifest.get("model", {})
    if "bgnbd" in model and "warning" not in model:
        left = manifest.get("classify", {}).get("red_flags", {}).get("probably_left", 0)
        lines.append(
            f"model: P(alive) and {model['horizon_days']}-day expected orders for "
            f"{model['customers_fitted']} customers ({model['repeat_customers']} repeat); "
            f"probably left while still active: {left}"
        )
    mig = manifest.get("migration")
    hist = manifest.get("history")
    if mig:
        line = (
            f"since {mig['previous']}: {mig['moved']} changed segment ({mig['new']} new, "
            f"{mig['gone']} gone); red flags raised for {mig['flags_raised']}, cleared for "
            f"{mig['flags_cleared']}"
        )
        if not hist:  # with the history, its own line below counts the tasks
            line += (
                f"; {mig['open_tasks']} tasks still open, "
                f"{mig['withheld_tasks']} not issued again (done or refused last time)"
            )
        lines.append(line)
    capacity = manifest.get("capacity")
    if capacity and capacity.get("deferred"):
        lines.append(
            f"capacity: {capacity['issued']} tasks issued + {capacity['deferred']} deferred "
            f"over capacity (deferred.csv) = {capacity['planned']} planned"
        )
    from segtool.steps.capacity import owner_lines

    if any(row.get("in_team") for row in manifest.get("owners", {}).values()):
        lines += owner_lines(manifest["owners"])
    if hist:
        lines.append(
            f"history: {hist.get('new', 0)} new tasks, {hist.get('carried', 0)} carried "
            f"({hist.get('overdue', 0)} overdue), {hist.get('achieved', 0)} closed by an order; "
            f"not issued: {hist.get('withheld_done', 0)} done lately, "
            f"{hist.get('withheld_refused', 0)} on a refused channel, "
            f"{hist.get('waiting_sequence', 0)} sequence steps waiting"
        )
    if manifest.get("effectiveness"):
        from segtool.steps.effectiveness_report import console_lines

        lines += console_lines(manifest["effectiveness"])
    total = sum(manifest.get("timings", {}).values())
    lines.append(f"wrote {len(manifest.get('outputs', []))} files to {out} in {total:.1f} s")
    return lines


def execute(
    config_path: Path | None,
    out: Path,
    *,
    as_of: str | None,
    previous: Path | None,
    fmt: str | None,
    workspace: Path | None,
    as_json: bool,
    history: Path | None = None,
    use_history: bool = True,
) -> int:
    from segtool.pipeline import run_pipeline

    cfg = load(config_path)
    formats = parse_formats(fmt, cfg.export.formats)
    result = run_pipeline(
        cfg,
        out=out,
        as_of=parse_as_of(as_of),
        previous=previous,
        formats=formats,
        workspace=workspace,
        history=history,
        use_history=use_history,
        as_of_source=as_of_source(as_of),
    )
    for message in result.warnings:
        console.warn(message)
    for message in result.notices:
        console.info(message)
    for line in result.infos:
        console.info(line)
    for line in summary_lines(result.manifest, out):
        console.info(line)
    if as_json:
        sys.stdout.write(json.dumps(result.manifest, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()
    return result.exit_code
