"""Run report: per-file row accounting, timings, and the manifest.json contract.

manifest.json (machine-read, DESIGN.md "Outputs"): ``as_of`` (ISO date or null before
scoring) and ``inputs``: per file ``path``, ``kind``, ``sha256``, ``rows_read``,
``rows_accepted``, ``rows_rejected``, ``rows_duplicate``. Other keys are informative.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from segtool import __version__


@dataclass
class InputStats:
    path: str
    kind: str  # orders | contacts | companies
    sha256: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def check(self) -> None:
        """The accounting identity: nothing read is lost without a count."""
        total = self.rows_accepted + self.rows_rejected + self.rows_duplicate
        if total != self.rows_read:  # pragma: no cover - a bug, never bad input
            raise AssertionError(
                f"{self.path}: rows read {self.rows_read} != accepted {self.rows_accepted} "
                f"+ rejected {self.rows_rejected} + duplicates {self.rows_duplicate}"
            )

    def line(self) -> str:
        return (
            f"{Path(self.path).name}: {self.rows_read:,} rows read = "
            f"{self.rows_accepted:,} accepted"
            f" + {self.rows_rejected:,} rejected + {self.rows_duplicate:,} duplicates"
        ).replace(",", " ")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def new_manifest(config_path: Path | None, config_sha256: str | None) -> dict[str, Any]:
    return {
        "tool": "segtool",
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"path": str(config_path) if config_path else None, "sha256": config_sha256},
        "as_of": None,
        "inputs": [],
        "timings": {},
    }


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n").encode()


def read_manifest(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
