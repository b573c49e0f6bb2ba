"""The two real public exports in ../shared/data (skipped when the folder is absent).

UCI Online Retail: UTF-8 with BOM, «Клиент» as the id, ~25 % lines without a customer,
cancellations as negative lines, exact duplicate rows. Iowa liquor: cp1251, «Контрагент»
as the id, space thousands separators. The expected figures are counted independently
in this test with the csv module over the raw file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (DATA / "uci_orders.csv.gz").exists(), reason="../shared/data absent"),
]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    for name in ("uci_orders.csv.gz", "iowa_orders.csv.gz"):
        with gzip.open(DATA / name, "rb") as src, open(folder / name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    return folder


def count_raw(path: Path, encoding: str) -> dict:
    """Plain-Python count: rows, rows without a customer, exact duplicate rows."""
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], rows[1:]
    cid = next(i for i, h in enumerate(header) if h in ("Клиент", "Контрагент"))
    seen: set[tuple] = set()
    dups = missing = 0
    for row in body:
        key = tuple(row)
        if key in seen:
            dups += 1
            continue
        seen.add(key)
        if not row[cid].strip():
            missing += 1
    return {"rows": len(body), "duplicates": dups, "missing_customer": missing}


def run(folder: Path, name: str, extra: str = "") -> dict:
    cfg = folder / f"{name}.yaml"
    cfg.write_text(f"inputs: {{orders: {{path: {name}.csv}}}}\nlimits: {{max_reject_rate: 0.5}}\n"
                   + extra, encoding="utf-8")
    out = folder / f"out_{name}"
    result = subprocess.run([sys.executable, "-m", "segtool", "run", "--config", str(cfg),
                             "--out", str(out), "--format", "csv"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_uci_every_row_accounted_for(unpacked):
    expected = count_raw(unpacked / "uci_orders.csv", "utf-8-sig")
    manifest = run(unpacked, "uci_orders")
    # the model fits without a warning (4,338 buyers, 2,790 of them repeat customers)
    assert "warning" not in manifest["model"]
    assert manifest["model"]["converged"] == {"bgnbd": True, "gamma_gamma": True}
    (item,) = manifest["inputs"]
    assert item["rows_read"] == expected["rows"] == 541_909
    assert item["rows_duplicate"] == expected["duplicates"]
    assert item["rows_rejected"] == expected["missing_customer"]
    assert item["rows_accepted"] == expected["rows"] - expected["duplicates"] - expected[
        "missing_customer"]
    assert manifest["as_of"] == "2011-12-09"
    segments = pl.read_csv(unpacked / "out_uci_orders" / "segments.csv",
                           schema_overrides={"customer_id": pl.String})
    # every customer with an accepted line is there once
    assert segments["customer_id"].n_unique() == segments.height == 4372


def test_iowa_cp1251_and_thousands_separators(unpacked):
    raw = (unpacked / "iowa_orders.csv").read_bytes().decode("cp1251")
    total = 0.0
    for row in list(csv.reader(io.StringIO(raw), delimiter=";"))[1:]:
        total += float(row[4].replace(" ", "").replace("\u00a0", "").replace(",", "."))
    manifest = run(unpacked, "iowa_orders")
    assert "warning" not in manifest["model"]
    assert manifest["model"]["converged"] == {"bgnbd": True, "gamma_gamma": True}
    (item,) = manifest["inputs"]
    assert item["rows_read"] == item["rows_accepted"] == 202_087
    segments = pl.read_csv(unpacked / "out_iowa_orders" / "segments.csv")
    assert segments.height == 739
    assert segments["revenue"].sum() == pytest.approx(total, rel=1e-9)
    assert segments["customer_id"].str.starts_with("Магазин №").all()
