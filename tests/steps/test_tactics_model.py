"""assign-tactics with the model: p_alive conditions and expected revenue as the value."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_tactics import ALL_REACHABLE, AS_OF, playbook, segments  # noqa: E402

from segtool.errors import ConfigError  # noqa: E402
from segtool.steps.tactics import assign_tactics  # noqa: E402

# 001 new active, 002 regular asleep, 003 regular active (see test_tactics.segments)
MODEL = {"p_alive": [1.0, 0.02, 0.25], "expected_revenue": [900.0, 3.0, 4000.0]}


def matched(tactics: list[dict], frame: pl.DataFrame) -> list[tuple[str, str]]:
    pb, cfg = playbook(tactics)
    tasks, _ = assign_tactics(frame.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    return sorted(zip(tasks["customer_id"], tasks["tactic"], strict=True))


def test_p_alive_conditions():
    frame = segments(**MODEL)
    tactics = [
        {"id": "gone", "when": {"max_p_alive": 0.3}, "action": "call"},
        {
            "id": "gone_regular",
            "when": {"max_p_alive": 0.3, "min_orders": 5, "activity": ["active"]},
            "action": "call",
        },
        {"id": "alive", "when": {"min_p_alive": 0.25}, "action": "email"},
    ]
    assert matched(tactics, frame) == [
        ("001", "alive"),
        ("002", "gone"),
        ("003", "alive"),
        ("003", "gone"),
        ("003", "gone_regular"),
    ]


def test_p_alive_conditions_match_nobody_without_the_model():
    frame = segments()  # no model columns: the model was off or failed
    assert matched([{"id": "gone", "when": {"max_p_alive": 0.3}, "action": "call"}], frame) == []


def test_p_alive_bounds_are_checked():
    with pytest.raises(ConfigError, match="max_p_alive"):
        playbook([{"id": "x", "when": {"max_p_alive": 30}, "action": "call"}])


def test_expected_value_is_expected_revenue_when_the_model_is_on():
    """weight 0.5, two steps: 003 → 0.5 × 4000 / 2 = 1000; 001 → 0.5 × 900 / 2 = 225;
    002 → 0.5 × 3 / 2 = 0.75. The tasks are ranked by it (same priorities)."""
    pb, cfg = playbook(
        [{"id": "all", "action": "email", "weight": 0.5, "steps": [{"day": 0}, {"day": 7}]}]
    )
    tasks, _ = assign_tactics(segments(**MODEL).lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    first_steps = tasks.filter(pl.col("step") == 1)
    assert first_steps["customer_id"].to_list() == ["003", "001", "002"]
    assert first_steps["expected_value"].to_list() == [1000.0, 225.0, 0.75]


def test_expected_value_falls_back_to_the_order_value_without_the_model():
    """avg_order_value 1000 / 5000 / 2000 × weight 0.5 → 500 / 2500 / 1000."""
    pb, cfg = playbook([{"id": "all", "action": "email", "weight": 0.5}])
    empty = {"p_alive": [None] * 3, "expected_revenue": [None] * 3}
    frame = segments(**empty).with_columns(pl.col("p_alive", "expected_revenue").cast(pl.Float64))
    tasks, _ = assign_tactics(frame.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    assert tasks["customer_id"].to_list() == ["002", "003", "001"]
    assert tasks["expected_value"].to_list() == [2500.0, 1000.0, 500.0]


def test_leads_get_the_median_expected_revenue():
    """001 made a lead: no model values, so the median of the buyers' 3 and 4000 (2001.5);
    weight 0.5 → 1000.75."""
    frame = segments(**MODEL).with_columns(
        pl.when(pl.col("customer_id") == "001")
        .then(None)
        .otherwise(pl.col("expected_revenue"))
        .alias("expected_revenue"),
        pl.when(pl.col("customer_id") == "001").then(0).otherwise(pl.col("orders")).alias("orders"),
        pl.when(pl.col("customer_id") == "001")
        .then(pl.lit("lead"))
        .otherwise(pl.col("segment"))
        .alias("segment"),
    )
    pb, cfg = playbook([{"id": "all", "action": "email", "weight": 0.5}])
    tasks, _ = assign_tactics(frame.lazy(), ALL_REACHABLE.lazy(), pb, cfg, AS_OF)
    value = dict(zip(tasks["customer_id"], tasks["expected_value"], strict=True))
    assert value == {"001": 1000.75, "002": 1.5, "003": 2000.0}
