"""The workspace folder that connects steps run one by one (default ``.segtool/``).

Files: orders.parquet, contacts.parquet, rejects.csv (ingest); scores.parquet (score);
segments.parquet (classify); tasks.parquet, data_quality.parquet, assignments.parquet
(assign-tactics); manifest.json (every step updates it). See :data:`segtool.step_list.STEPS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from segtool.errors import E_WORKSPACE, SegtoolError
from segtool.io.atomic import FolderLock, OutputSet, atomic_file
from segtool.report import dump_manifest, read_manifest
from segtool.step_list import PRODUCED_BY

MANIFEST = "manifest.json"


class Workspace:
    def __init__(self, path: Path):
        self.path = Path(path)

    def lock(self) -> FolderLock:
        return FolderLock(self.path)

    def file(self, name: str) -> Path:
        return self.path / f"{name}.parquet"

    def has(self, name: str) -> bool:
        return self.file(name).exists()

    def scan(self, name: str) -> pl.LazyFrame:
        path = self.file(name)
        if not path.exists():
            step = PRODUCED_BY.get(name, "the previous step")
            raise SegtoolError(
                f"{path}: not found; run `segtool {step} --config ...` first "
                f"(or use `segtool run`)",
                code=E_WORKSPACE,
                file=path,
            )
        return pl.scan_parquet(path)

    def manifest(self) -> dict[str, Any]:
        path = self.path / MANIFEST
        if not path.exists():
            raise SegtoolError(
                f"{path}: not found; run `segtool ingest --config ...` first",
                code=E_WORKSPACE,
                file=path,
            )
        return read_manifest(path)

    def save(
        self,
        frames: dict[str, pl.DataFrame],
        manifest: dict[str, Any],
        extra_files: dict[str, bytes] | None = None,
    ) -> None:
        """Write frames (as parquet), extra files and the manifest; all or nothing."""
        with OutputSet(self.path, keep_others=True) as out:
            for name, frame in frames.items():
                frame.write_parquet(out.path(f"{name}.parquet"))
            for name, data in (extra_files or {}).items():
                out.path(name).write_bytes(data)
            out.path(MANIFEST).write_bytes(dump_manifest(manifest))

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        with atomic_file(self.path / MANIFEST) as handle:
            handle.write(dump_manifest(manifest))
