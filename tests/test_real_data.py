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
from clirun import segtool_cmd

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
    cfg.write_text(
        f"inputs: {{orders: {{path: {name}.csv}}}}\nlimits: {{max_reject_rate: 0.5}}\n" + extra,
        encoding="utf-8",
    )
    out = folder / f"out_{name}"
    result = subprocess.run(
        segtool_cmd("run", "--config", str(cfg), "--out", str(out), "--format", "csv"),
        capture_output=True,
        text=True,
        timeout=600,
    )
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
    assert (
        item["rows_accepted"]
        == expected["rows"] - expected["duplicates"] - expected["missing_customer"]
    )
    assert manifest["as_of"] == "2011-12-09"
    segments = pl.read_csv(
        unpacked / "out_uci_orders" / "segments.csv", schema_overrides={"customer_id": pl.String}
    )
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


# -- issue 14: the task sheets read as a caller would say them ---------------------------------
GIFT_SETS = (
    'periods:\n  categories:\n    gifts: {match: ["Подарочные наборы"], '
    "falling_asleep_after: 24, asleep_after: 48}\n"
)


@pytest.mark.parametrize("name, extra", [("uci_orders", ""), ("iowa_orders", GIFT_SETS)])
def test_task_sheets_read_naturally(unpacked, name, extra):
    sys.path.insert(0, str(Path(__file__).parent))
    from textcheck import check_texts

    folder = unpacked / f"texts_{name}"
    folder.mkdir(exist_ok=True)
    shutil.copy(unpacked / f"{name}.csv", folder / f"{name}.csv")
    run(folder, name, extra)
    out = folder / f"out_{name}"
    read = {"infer_schema_length": 0}
    tasks = pl.concat(
        [pl.read_csv(out / "call_tasks.csv", **read), pl.read_csv(out / "mail_tasks.csv", **read)],
        how="diagonal",
    )
    segments = pl.read_csv(out / "segments.csv", **read)
    names = segments["company_name"].drop_nulls().to_list()
    texts = [*tasks["script"], *tasks["offer"], *tasks["reason"], *segments["reason"]]
    assert check_texts(texts, names) == []
    # one call per customer; never a customer id as the address
    calls = tasks.filter(pl.col("channel").is_in(["call", "survey"]))
    assert calls.group_by("customer_id").len()["len"].max() == 1
    assert not tasks["script"].str.contains(r"^\d").any()
    # a welcome only within 30 days of the first order
    welcome = tasks.filter(pl.col("tactic") == "new_active_welcome").join(
        segments.select("customer_id", "tenure_days"), on="customer_id"
    )
    assert (welcome["tenure_days"].cast(pl.Int64) <= 30).all()
    if name == "iowa_orders":
        # weekly buyer silent 21 months with gift sets in 2019: falling asleep, not active
        store = segments.filter(pl.col("customer_id") == "Магазин №3855").row(0, named=True)
        assert store["segment"] == "regular_falling_asleep"
        assert store["activity_rule"] == "period"
        # no renewal for a liquor store: gift sets are not durable goods
        assert "renewal" not in tasks["tactic"].to_list()


@pytest.mark.parametrize(
    "as_of, code, message",
    [
        ("2011-01-09", 0, "are dated after it and were ignored"),  # meant 2011-11-09
        (
            "1999-12-09",
            2,
            "before every order: the export has orders from 2010-12-01 to 2011-12-09",
        ),
        ("2099-01-01", 0, "more than 3 months after the last order (2011-12-09)"),
        ("09.12.2011", 0, None),
    ],
)
def test_uci_as_of_typos(unpacked, as_of, code, message):
    cfg = unpacked / "uci_as_of.yaml"
    cfg.write_text(
        "inputs: {orders: {path: uci_orders.csv}}\nlimits: {max_reject_rate: 0.5}\n",
        encoding="utf-8",
    )
    out = unpacked / f"out_as_of_{as_of}"
    result = subprocess.run(
        segtool_cmd(
            "run", "--config", str(cfg), "--out", str(out), "--format", "csv", "--as-of", as_of
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == code, result.stderr
    if message is None:
        assert "warning: --as-of" not in result.stderr
    else:
        assert message in result.stderr.replace("\n", " ")
    if code == 0:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert (message is None) == (manifest["warnings"] == [])
    else:
        assert not out.exists() or not (out / "manifest.json").exists()
