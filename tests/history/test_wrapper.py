"""scripts/segtool-monthly.sh with the contact history."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE = """#!/usr/bin/env bash
echo "$@" >> "$FAKE_ARGS"
"""


def test_wrapper_passes_the_history_file_when_asked(tmp_path):
    fake = tmp_path / "fake-segtool"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    env = {
        **os.environ,
        "SEGTOOL": str(fake),
        "SEGTOOL_MONTH": "2026-11",
        "FAKE_ARGS": str(tmp_path / "args.txt"),
    }
    for history in ("", "/srv/crm/history.db"):
        done = subprocess.run(
            [
                "bash",
                str(ROOT / "scripts" / "segtool-monthly.sh"),
                "cfg.yaml",
                str(tmp_path / "out"),
            ],
            env={**env, "SEGTOOL_HISTORY": history},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    calls = (tmp_path / "args.txt").read_text().splitlines()
    out = tmp_path / "out" / "2026-11"
    assert calls == [
        f"run --config cfg.yaml --out {out} --json",
        f"run --config cfg.yaml --out {out} --json --history /srv/crm/history.db",
    ]
