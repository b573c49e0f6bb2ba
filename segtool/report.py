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
from typing import TYPE_CHECKING, Any

from segtool import __version__

if TYPE_CHECKING:
    from segtool.steps.ingest import IngestResult
    from segtool.steps.tactics import TacticsStats


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


# -- the one console-report builder: what each step tells the user ----------------------
@dataclass
class StepLines:
    """What a step prints: warnings (kept by --quiet) and information lines. ``segtool run``
    and the step commands print the same lines for the same step."""

    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def extend(self, other: StepLines) -> None:
        self.warnings += other.warnings
        self.infos += other.infos


def reject_limit_warning(rate: float, limit: float, rejects_path: Path) -> str:
    return (
        f"{rate:.1%} of order rows were rejected, over limits.max_reject_rate = {limit:.1%}; "
        f"see {rejects_path}"
    )


def ingest_lines(result: IngestResult, limit: float, rejects_path: Path) -> StepLines:
    """Warnings of reading the exports, the files' notes and the rejects by reason."""
    from collections import Counter

    from segtool.steps.ingest import reject_rate

    lines = StepLines(warnings=list(result.warnings), infos=list(result.notes))
    if result.rejects.height:
        reasons = Counter(result.rejects["reason"].to_list())
        detail = ", ".join(f"{k}: {v}" for k, v in reasons.most_common())
        lines.infos.append(f"{result.rejects.height} rows not used ({detail}) → {rejects_path}")
    rate = reject_rate(result)
    if rate > limit:
        lines.warnings.append(reject_limit_warning(rate, limit, rejects_path))
    return lines


def score_lines(as_of_warnings: list[str], model: dict[str, Any]) -> StepLines:
    warnings = list(as_of_warnings)
    if "warning" in model:
        warnings.append(str(model["warning"]))
    return StepLines(warnings=warnings)


def classify_lines(summary: dict[str, Any]) -> StepLines:
    """The priority and red-flag counts, and the notes (e.g. mixed size sources)."""
    flags = ", ".join(f"{code} {n}" for code, n in summary["red_flags"].items())
    return StepLines(
        warnings=[str(note) for note in summary.get("notes", [])],
        infos=[f"priority (all A): {summary['priority']}; red flags: {flags}"],
    )


def tactics_lines(stats: TacticsStats, max_per_customer: int) -> StepLines:
    """The playbook identity, the tactics left out by the cap and the unroutable tasks."""
    lines = StepLines(infos=[stats.identity_line()])
    if stats.skipped_by_cap:
        lines.infos.append(
            f"{stats.skipped_by_cap} matching tactics left out by tasks.max_per_customer "
            f"({max_per_customer})"
        )
    if stats.data_quality_rows:
        lines.warnings.append(
            f"{stats.data_quality_rows} tasks could not be routed to any contact "
            "(see data_quality.csv after export)"
        )
    return lines
