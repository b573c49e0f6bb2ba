"""Config loading: defaults, contract keys, and one-line errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from segtool.config import load_config
from segtool.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_only_orders_path_is_enough(write_config):
    cfg = load_config(write_config("inputs:\n  orders:\n    path: orders.csv\n"))
    assert cfg.inputs.contacts is None
    assert cfg.periods.default.falling_asleep_after == 12
    assert cfg.periods.default.asleep_after == 24
    assert cfg.language == "ru"
    assert cfg.resolve(cfg.inputs.orders.path) == cfg.base_dir / "orders.csv"


def test_contract_keys(write_config):
    cfg = load_config(
        write_config(
            "language: en\n"
            "inputs:\n"
            "  orders: {path: exports/orders.csv}\n"
            "  contacts: {path: exports/contacts.xlsx, sheet: Контакты}\n"
            "  columns: {orders: {customer_id: ИНН покупателя}}\n"
            "periods:\n"
            "  default: {falling_asleep_after: 6, asleep_after: 18}\n"
            "  categories:\n"
            "    durable: {match: ['Станки*'], falling_asleep_after: 36, asleep_after: 120}\n"
        )
    )
    assert cfg.inputs.contacts.sheet == "Контакты"
    assert cfg.inputs.columns.orders == {"customer_id": "ИНН покупателя"}
    assert cfg.periods.categories["durable"].asleep_after == 120
    assert cfg.language == "en"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    sub = tmp_path / "project"
    sub.mkdir()
    (sub / "segtool.yaml").write_text("inputs: {orders: {path: ../exports/o.csv}}\n")
    cfg = load_config(sub / "segtool.yaml")
    assert cfg.resolve(cfg.inputs.orders.path).resolve() == (tmp_path / "exports/o.csv").resolve()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "inputs: {orders: {path: o.csv}}\nperiods: {default: {asleep_afer: 24}}\n",
            "unknown key 'periods.default.asleep_afer'; "
            "did you mean 'periods.default.asleep_after'?",
        ),
        (
            "inputs: {orders: {path: o.csv}}\nlangauge: en\n",
            "unknown key 'langauge'; did you mean 'language'?",
        ),
        (
            "inputs: {order: {path: o.csv}}\n",
            "unknown key 'inputs.order'; did you mean 'inputs.orders'?",
        ),
        (
            "inputs: {orders: {path: o.csv}}\nperiods: {default: {falling_asleep_after: twelve}}\n",
            "key 'periods.default.falling_asleep_after' = 'twelve': wrong type",
        ),
        (
            "inputs: {orders: {path: o.csv}}\nlanguage: de\n",
            "key 'language' = 'de': Input should be 'ru' or 'en'",
        ),
        (
            "inputs: {orders: {path: o.csv}}\nperiods: {default: {falling_asleep_after: 24, "
            "asleep_after: 12}}\n",
            "asleep_after (12) must be greater than falling_asleep_after (24)",
        ),
        ("language: ru\n", "missing key 'inputs'"),
        ("inputs: {orders: {}}\n", "missing key 'inputs.orders.path'"),
        ("inputs:\n\torders: x\n", "tabs"),
        (
            "inputs: {orders: {path: a.csv}}\ninputs: {orders: {path: b.csv}}\n",
            "duplicate key 'inputs'",
        ),
        ("inputs: !!python/object/apply:os.system ['echo hacked']\n", "could not determine"),
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping"),
        (
            "inputs: {orders: {path: o.csv}}\nperiods: {categories: {x: {match: ['[abc'], "
            "falling_asleep_after: 1, asleep_after: 2}}}\n",
            "bad glob",
        ),
    ],
)
def test_config_errors_are_one_line(write_config, yaml_text, message):
    path = write_config(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = info.value.message
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found .*segtool init"):
        load_config(tmp_path / "nope.yaml")


def test_renamed_key_is_mapped_with_a_warning(write_config):
    warnings: list[str] = []
    cfg = load_config(
        write_config(
            "inputs: {orders: {path: o.csv}}\n"
            "periods: {default: {passive_after: 6, lost_after: 18}}\n"
        ),
        warnings,
    )
    assert cfg.periods.default.falling_asleep_after == 6
    assert cfg.periods.default.asleep_after == 18
    assert warnings == [
        "config key periods.default.passive_after is now periods.default.falling_asleep_after; "
        "please rename it",
        "config key periods.default.lost_after is now periods.default.asleep_after; "
        "please rename it",
    ]


def test_shipped_configs_load():
    for path in [REPO / "config" / "segtool.yaml", REPO / "segtool" / "defaults" / "segtool.yaml"]:
        load_config(path)


def test_repo_config_is_the_starter_config_pointed_at_sample_data():
    starter = (REPO / "segtool/defaults/segtool.yaml").read_text(encoding="utf-8")
    repo = (REPO / "config/segtool.yaml").read_text(encoding="utf-8")
    assert len(starter.splitlines()) == len(repo.splitlines())
    pairs = zip(starter.splitlines(), repo.splitlines(), strict=True)
    differing = [(a, b) for a, b in pairs if a != b]
    assert all("sample_data" in b for _, b in differing) and len(differing) == 2


def test_the_starter_holidays_are_the_default_russian_calendar():
    import datetime as dt

    from segtool.config import Calendar

    default = Calendar().holidays
    for path in [REPO / "config" / "segtool.yaml", REPO / "segtool" / "defaults" / "segtool.yaml"]:
        assert load_config(path).calendar.holidays == default
    assert all(day.weekday() < 5 for day in default)  # weekends are skipped anyway
    assert {
        dt.date(2026, 1, 1),
        dt.date(2026, 5, 1),
        dt.date(2026, 11, 4),
        dt.date(2027, 2, 23),
        dt.date(2027, 11, 4),
    } <= set(default)
    # a holiday on a weekend moves to the next Monday (Labour Code art. 112)
    assert dt.date(2026, 5, 11) in default and dt.date(2027, 6, 14) in default
