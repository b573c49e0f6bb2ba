"""`segtool export`: the workspace → workbooks and CSV files in --out (or one CSV on stdout)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import polars as pl

from segtool import console, schema
from segtool.commands import load, workspace_for
from segtool.errors import EXIT_OK, SegtoolError


def _read_rejects(path: Path) -> pl.DataFrame:
    if not path.exists():
        return schema.empty(schema.REJECTS)
    return pl.read_csv(path, schema=schema.REJECTS)


def execute(
    config_path: Path | None,
    workspace_override: Path | None,
    out: Path,
    fmt: str | None,
    output: str | None = None,
    what: str = "segments",
) -> int:
    from segtool.commands.run import parse_formats
    from segtool.io.atomic import FolderLock, OutputSet
    from segtool.io.csv_out import csv_bytes
    from segtool.io.csv_out import describe as describe_csv
    from segtool.report import dump_manifest
    from segtool.steps.export import WHAT_CHOICES, stdout_frame, write_outputs
    from segtool.workspace import MANIFEST

    if output is not None and output != "-":
        raise SegtoolError(
            f"-o {output!r}: only '-' (stdout) is supported; use --out DIR for files",
            code="E-USAGE",
        )
    if what not in WHAT_CHOICES:
        raise SegtoolError(
            f"--what {what!r}: expected one of {', '.join(WHAT_CHOICES)}", code="E-USAGE"
        )
    cfg = load(config_path)
    formats = parse_formats(fmt, cfg.export.formats)
    workspace = workspace_for(cfg, workspace_override)
    start = time.perf_counter()
    with workspace.lock():
        manifest = workspace.manifest()
        segments = workspace.scan("segments").collect()
        tasks = workspace.scan("tasks").collect()
        data_quality = workspace.scan("data_quality").collect()
        rejects = _read_rejects(workspace.path / "rejects.csv")

    frames = {"segments": segments, "tasks": tasks, "data_quality": data_quality,
              "rejects": rejects}
    if output == "-":
        data = csv_bytes(stdout_frame(what, **frames), cfg.export.csv)
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:  # a text-only stdout (tests)
            sys.stdout.write(data.decode(cfg.export.csv.encoding))
        else:
            stream.write(data)
            stream.flush()
        return EXIT_OK

    from segtool.pipeline import check_out_outside_inputs

    check_out_outside_inputs(cfg, out)
    with FolderLock(out), OutputSet(out) as outset:
        warnings = write_outputs(outset, **frames, summary=manifest, cfg=cfg, formats=formats)
        manifest.setdefault("timings", {})["export"] = round(time.perf_counter() - start, 3)
        manifest["csv"] = describe_csv(cfg.export.csv)
        manifest["outputs"] = sorted([*outset.names, MANIFEST])
        outset.path(MANIFEST).write_bytes(dump_manifest(manifest))
    if outset.removed:
        from segtool.pipeline import removed_notice

        warnings.append(removed_notice(out, outset.removed))
    for message in warnings:
        console.warn(message)
    console.info(
        f"wrote {len(manifest['outputs'])} files to {out}: {', '.join(manifest['outputs'])}"
    )
    return EXIT_OK
