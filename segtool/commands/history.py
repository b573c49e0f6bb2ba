"""`segtool history`: a customer's contact log, or a summary of the history file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from segtool import console
from segtool.commands import load
from segtool.errors import E_HISTORY_MISSING, EXIT_OK, InputError


def _log_lines(log: dict[str, Any]) -> list[str]:
    name = f" {log['company_name']}" if log["company_name"] else ""
    lines = [f"customer {log['customer_id']}{name}: {len(log['tasks'])} tasks"]
    for task in log["tasks"]:
        lines.append(
            f"  {task['issued_as_of']}  {task['task_id']}  {task['tactic']} step {task['step']} "
            f"({task['channel']}, {task['contact_name'] or '-'}), due {task['due_date']}: "
            f"{task['status']} since {task['status_on']}"
        )
        for change in task["changes"]:
            where = change["source_file"] or ""
            if change["source_row"] is not None:
                where += f":{change['source_row']}"
            lines.append(
                f"      {change['changed_on']}  {change['previous_status'] or '-'} → "
                f"{change['status']}  (run as of {change['run_as_of']}"
                f"{', ' + where if where else ''})"
            )
    return lines


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"{summary['path']} (schema version {summary['schema_version']}): "
        f"{len(summary['runs'])} runs, {summary['customers']} customers with tasks"
    ]
    for run in summary["runs"]:
        lines.append(
            f"  run {run['run_id']}  as of {run['as_of']}  {run['state']:<9}  "
            f"{run['tasks_shown'] or 0} tasks ({run['tasks_new'] or 0} new, "
            f"{run['tasks_carried'] or 0} carried)  {run['out_dir']}"
        )
    statuses = ", ".join(f"{k} {v}" for k, v in summary["tasks_by_status"].items()) or "none"
    lines.append(f"tasks by status: {statuses}")
    return lines


def execute(
    config_path: Path | None, override: Path | None, customer_id: str | None, *, as_json: bool
) -> int:
    from segtool.history.session import history_path
    from segtool.history.store import HistoryStore, contact_log, store_summary

    path = override if override is not None else history_path(load(config_path), None)
    if path is None:
        raise InputError(
            "no history: history.path is null in the config; pass --history FILE",
            code=E_HISTORY_MISSING,
        )
    if not Path(path).exists():
        raise InputError(
            f"history {path}: no such file; it is written by `segtool run`",
            code=E_HISTORY_MISSING,
        )
    with HistoryStore(Path(path)) as store:
        data = (
            contact_log(store, customer_id.strip())
            if customer_id is not None
            else store_summary(store)
        )
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        return EXIT_OK
    lines = _log_lines(data) if customer_id is not None else _summary_lines(data)
    sys.stdout.write("\n".join(lines) + "\n")
    console.info(f"read {path}")
    return EXIT_OK
