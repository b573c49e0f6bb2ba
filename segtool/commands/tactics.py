"""`segtool assign-tactics`: segments.parquet + contacts → tasks.parquet, data_quality.parquet."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from segtool import console
from segtool.commands import load, workspace_for
from segtool.errors import E_WORKSPACE, EXIT_OK, SegtoolError
from segtool.steps.ingest import has_contacts_input


def execute(config_path: Path | None, workspace_override: Path | None) -> int:
    from segtool.playbook import load_playbook
    from segtool.steps.tactics import assign_tactics_with_stats

    cfg = load(config_path)
    playbook = load_playbook(cfg)
    workspace = workspace_for(cfg, workspace_override)
    with workspace.lock():
        manifest = workspace.manifest()
        segments = workspace.scan("segments")
        if not manifest.get("as_of"):
            raise SegtoolError(
                f"{workspace.path / 'manifest.json'}: no as_of; run `segtool score` first",
                code=E_WORKSPACE,
            )
        as_of = dt.date.fromisoformat(manifest["as_of"])
        # None = no contacts export: tasks go to the account, not to data quality
        contacts = (
            workspace.scan("contacts")
            if has_contacts_input(cfg) and workspace.has("contacts")
            else None
        )
        start = time.perf_counter()
        with console.step(f"assigning tactics ({len(playbook.tactics)} in the playbook)"):
            result = assign_tactics_with_stats(segments, contacts, playbook, cfg, as_of)
        stats = result.stats
        manifest["tasks_per_channel"] = stats.tasks_per_channel
        manifest["tactics"] = {
            "playbook": playbook.source,
            **{k: v for k, v in stats.as_dict().items() if k != "tasks_per_channel"},
        }
        manifest.setdefault("timings", {})["assign-tactics"] = round(time.perf_counter() - start, 3)
        workspace.save({"tasks": result.tasks, "data_quality": result.data_quality}, manifest)

    console.info(stats.identity_line())
    channels = ", ".join(f"{k} {v}" for k, v in stats.tasks_per_channel.items()) or "none"
    console.info(f"tasks: {stats.tasks} ({channels})")
    if stats.skipped_by_cap:
        console.info(
            f"{stats.skipped_by_cap} matching tactics left out by tasks.max_per_customer "
            f"({cfg.tasks.max_per_customer})"
        )
    if stats.data_quality_rows:
        console.warn(
            f"{stats.data_quality_rows} tasks could not be routed to any contact "
            "(see data_quality.csv after export)"
        )
    return EXIT_OK
