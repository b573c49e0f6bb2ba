"""`segtool classify`: scores.parquet -> segments.parquet and the 3×3 summary table."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from segtool import console
from segtool.commands import load, workspace_for
from segtool.errors import E_WORKSPACE, EXIT_OK, SegtoolError
from segtool.labels import ACTIVITY_LABELS, SEGMENT_LABELS, STAGE_LABELS
from segtool.manifest import add_classify
from segtool.report import classify_lines
from segtool.schema import ACTIVITIES, STAGES


def execute(config_path: Path | None, workspace_override: Path | None) -> int:
    from segtool.steps.classify import classify

    cfg = load(config_path)
    workspace = workspace_for(cfg, workspace_override)
    with workspace.lock():
        manifest = workspace.manifest()
        if not manifest.get("as_of") or not workspace.has("scores"):
            raise SegtoolError(
                f"{workspace.file('scores')}: not found; run `segtool score --config ...` first",
                code=E_WORKSPACE,
            )
        as_of = dt.date.fromisoformat(manifest["as_of"])
        orders = workspace.scan("orders") if workspace.has("orders") else None
        start = time.perf_counter()
        with console.step("classifying customers"):
            segments, summary = classify(workspace.scan("scores"), cfg, orders, as_of)
            frame = segments.collect()
        add_classify(manifest, summary)
        manifest.setdefault("timings", {})["classify"] = round(time.perf_counter() - start, 3)
        workspace.save({"segments": frame}, manifest)

    show_summary(summary, cfg.language)
    return EXIT_OK


def _money(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def show_summary(summary: dict[str, Any], language: str) -> None:
    """The 3×3 stage × activity matrix of customers and revenue, then the other counts."""
    from rich.table import Table

    counts = summary["customers_per_segment"]
    revenue = summary["revenue_per_segment"]
    title = "клиенты / выручка" if language == "ru" else "customers / revenue"
    table = Table(title=title)
    table.add_column("")
    for activity in ACTIVITIES:
        table.add_column(ACTIVITY_LABELS[activity][language], justify="right")
    plain = [f"{title}:", "\t".join([""] + [ACTIVITY_LABELS[a][language] for a in ACTIVITIES])]
    for stage in STAGES:
        cells = [
            f"{counts[f'{stage}_{a}']} / {_money(revenue[f'{stage}_{a}'])}" for a in ACTIVITIES
        ]
        table.add_row(STAGE_LABELS[stage][language], *cells)
        plain.append("\t".join([STAGE_LABELS[stage][language], *cells]))
    console.table(table, plain)
    console.info(
        f"{SEGMENT_LABELS['lead'][language]}: {counts['lead']}; "
        f"{SEGMENT_LABELS['no_purchase'][language]}: {counts['no_purchase']}"
    )
    lines = classify_lines(summary)
    for line in lines.infos:
        console.info(line)
    for note in lines.warnings:
        console.warn(note)
