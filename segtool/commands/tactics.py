"""`segtool assign-tactics`: segments.parquet + contacts → tasks.parquet, data_quality.parquet."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from segtool import console
from segtool.commands import load, workspace_for
from segtool.errors import E_WORKSPACE, EXIT_OK, SegtoolError
from segtool.manifest import add_tactics
from segtool.report import tactics_lines
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
        add_tactics(manifest, stats, playbook.source)
        manifest.setdefault("timings", {})["assign-tactics"] = round(time.perf_counter() - start, 3)
        workspace.save(
            {
                "tasks": result.tasks,
                "data_quality": result.data_quality,
                "assignments": result.assignments,  # the arms, for the history and holdout
            },
            manifest,
        )

    lines = tactics_lines(stats, cfg.tasks.max_per_customer)
    console.info(lines.infos[0])
    channels = ", ".join(f"{k} {v}" for k, v in stats.tasks_per_channel.items()) or "none"
    console.info(f"tasks: {stats.tasks} ({channels})")
    for line in lines.infos[1:]:
        console.info(line)
    for message in lines.warnings:
        console.warn(message)
    return EXIT_OK
