"""`segtool ingest`: exports → workspace orders.parquet, contacts.parquet, rejects.csv."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from segtool import console
from segtool.commands import load, workspace_for
from segtool.errors import EXIT_DATA, EXIT_OK
from segtool.manifest import add_ingest
from segtool.report import Timings, ingest_lines, new_manifest
from segtool.step_list import written_after

if TYPE_CHECKING:
    from segtool.config import Config
    from segtool.steps.ingest import IngestResult

DOWNSTREAM = written_after("ingest")


def report_ingest(result: IngestResult, cfg: Config, rejects_path: Path) -> int:
    """Print the per-file accounting and the reject summary; return the exit code."""
    from segtool.steps.ingest import reject_rate

    lines = ingest_lines(result, cfg.limits.max_reject_rate, rejects_path)
    for warning in lines.warnings:
        console.warn(warning)
    for notice in result.notices:
        console.info(notice)
    for stats in result.stats:
        console.info(stats.line())
    for line in lines.infos:
        console.info(line)
    return EXIT_DATA if reject_rate(result) > cfg.limits.max_reject_rate else EXIT_OK


def execute(
    config_path: Path | None, workspace_override: Path | None, *, as_json: bool = False
) -> int:
    from segtool.steps.ingest import ingest, rejects_csv_bytes

    cfg = load(config_path)
    ws = workspace_for(cfg, workspace_override)
    timings = Timings()
    with ws.lock():
        with timings.measure("ingest"), console.step("Reading exports…"):
            result = ingest(cfg)
        manifest = new_manifest(cfg.source_path, cfg.source_sha256)
        add_ingest(manifest, result, cfg)
        manifest["timings"] = timings.seconds
        ws.save(
            {"orders": result.orders, "contacts": result.contacts},
            manifest,
            {"rejects.csv": rejects_csv_bytes(result.rejects)},
        )
        for name in DOWNSTREAM:  # older results would no longer match these orders
            ws.file(name).unlink(missing_ok=True)
    code = report_ingest(result, cfg, ws.path / "rejects.csv")
    console.info(
        f"workspace: {ws.path} ({result.orders.height} order lines, "
        f"{result.contacts.height} contacts)"
    )
    if as_json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
    return code
