"""`segtool ingest`: exports → workspace orders.parquet, contacts.parquet, rejects.csv."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from segtool import console
from segtool.commands import load, workspace_for
from segtool.errors import EXIT_DATA, EXIT_OK
from segtool.report import Timings, new_manifest

DOWNSTREAM = ("scores", "segments", "tasks", "data_quality")


def report_ingest(result, cfg, rejects_path: Path) -> int:
    """Print the per-file accounting and the reject summary; return the exit code."""
    from segtool.steps.ingest import reject_rate

    for warning in result.warnings:
        console.warn(warning)
    for notice in result.notices:
        console.info(notice)
    for stats in result.stats:
        console.info(stats.line())
    for line in result.notes:
        console.info(line)
    if result.rejects.height:
        reasons = Counter(result.rejects["reason"].to_list())
        detail = ", ".join(f"{k}: {v}" for k, v in reasons.most_common())
        console.info(f"{result.rejects.height} rows not used ({detail}) → {rejects_path}")
    rate = reject_rate(result)
    limit = cfg.limits.max_reject_rate
    if rate > limit:
        console.warn(
            f"{rate:.1%} of order rows were rejected, over limits.max_reject_rate = {limit:.1%}; "
            f"see {rejects_path}"
        )
        return EXIT_DATA
    return EXIT_OK


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
        manifest["inputs"] = [s.as_dict() for s in result.stats]
        manifest["data_quality"] = result.quality
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
