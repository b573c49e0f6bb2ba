"""The vocabulary: every code has its ru and en labels, every code the steps can emit is in
it, and the workbooks, parsing and validation read their codes and labels from it."""

from __future__ import annotations

import shutil
import typing
from pathlib import Path

import polars as pl
import pytest

from segtool import errors, labels, playbook, schema
from segtool import vocabulary as V
from segtool.io import parse
from segtool.steps import classify, export, tactics
from tests.clirun import cli

REPO = Path(__file__).resolve().parents[1]


def test_every_code_has_a_ru_and_an_en_label():
    assert set(V.VOCABULARY) >= {
        "segment", "stage", "activity", "red_flag", "channel", "contact_role",
        "task_status", "company_type", "size_class", "reject_reason",
    }  # fmt: skip
    for kind, table in V.VOCABULARY.items():
        assert table, kind
        for code, term in table.items():
            assert term.code == code
            assert term.ru.strip() and term.en.strip(), (kind, code)
            assert term.label("ru") == term.ru and term.label("en") == term.en
        # two codes of one kind never read the same
        for lang in V.LANGUAGES:
            texts = [t.label(lang) for t in table.values()]
            assert len(set(texts)) == len(texts), (kind, lang)


def test_the_code_lists_are_the_vocabulary():
    assert V.codes("stage") == schema.STAGES
    assert V.codes("activity") == schema.ACTIVITIES
    assert V.codes("segment") == schema.SEGMENTS
    assert len(schema.SEGMENTS) == 11
    assert V.codes("company_type") == schema.COMPANY_TYPES
    assert V.codes("size_class") == schema.SIZE_CLASSES
    assert set(schema.ROLES) | {"unknown"} == set(V.codes("contact_role"))
    assert playbook.RED_FLAGS == classify.RED_FLAG_CODES == V.codes("red_flag")
    # the playbook's types must list the same channels and roles
    assert set(typing.get_args(playbook.Channel)) == set(V.codes("channel"))
    assert set(typing.get_args(playbook.Role)) == set(schema.ROLES)
    assert set(labels.SEGMENT_STRATEGY) == set(V.codes("segment"))
    assert set(labels.SEGMENT_STRATEGY.values()) == set(V.codes("strategy"))
    reject_codes = {v for k, v in vars(errors).items() if k.startswith("REJECT_")}
    assert reject_codes == set(V.codes("reject_reason"))
    assert V.codes("task_status") == export.STATUS_CODES


def test_channel_metadata_drives_routing_and_sheets():
    assert set(tactics.CALL_CHANNELS) == {"call", "survey"}
    assert set(tactics.EMAIL_CHANNELS) == {"email", "inmail", "chatbot"}
    assert set(tactics.CHANNEL_NEEDS) == set(V.codes("channel"))
    assert tactics.CHANNEL_NEEDS["chatbot"] == ("phone", "do_not_email")
    for term in V.CHANNEL.values():  # how sentences name a task of the channel
        assert term.meta["noun"]["ru"] and term.meta["noun"]["en"], term.code
    words = dict(parse.CHANNEL_WORDS)
    assert set(words) <= set(V.codes("channel"))
    # messengers are matched before "тел" (телефон): «Телеграм» is inmail, not a call
    order = [code for code, _ in parse.CHANNEL_WORDS]
    assert order.index("inmail") < order.index("call")
    assert {code for code, _ in parse.COMPANY_TYPE_VALUES} <= set(V.codes("company_type"))
    assert {code for code, _ in parse.ROLE_VALUES} <= set(V.codes("contact_role"))


def test_labels_agree_between_workbooks():
    # segments.xlsx (export) and migration.xlsx (labels.RED_FLAG_LABELS) read the same
    for code, term in V.RED_FLAG.items():
        for lang in V.LANGUAGES:
            assert export.LABELS["red_flags"][lang][code] == term.label(lang)
            assert labels.RED_FLAG_LABELS[code][lang] == term.label(lang)
    assert export.LABELS["red_flags"]["ru"]["overdue"] == "пропущен заказ"
    for kind, key in (("segment", "segment"), ("channel", "channel"), ("stage", "stage")):
        for code, term in V.VOCABULARY[kind].items():
            assert export.LABELS[key]["ru"][code] == term.ru


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vocab")
    for name in ("orders.csv", "contacts.xlsx"):
        shutil.copy(REPO / "sample_data" / name, root / name)
    (root / "segtool.yaml").write_text(
        "inputs:\n  orders: {path: orders.csv}\n"
        "  contacts: {path: contacts.xlsx, sheet: Контакты}\n",
        encoding="utf-8",
    )
    return root


def test_every_code_a_run_writes_is_in_the_vocabulary(capsys, sample_run):
    out = sample_run / "out"
    result = cli(
        capsys, "run", "--config", sample_run / "segtool.yaml", "--out", out,
        "--as-of", "2026-10-30", "--format", "csv", "--no-history",
    )  # fmt: skip
    assert result.code == 0, result.err
    segments = pl.read_csv(out / "segments.csv", infer_schema=False)
    columns = {
        "segment": "segment",
        "stage": "stage",
        "activity": "activity",
        "strategy": "strategy",
        "company_type": "company_type",
        "size_class": "size_class",
        "size_source": "size_source",
        "activity_rule": "activity_rule",
    }
    for column, kind in columns.items():
        values = set(segments[column].drop_nulls().to_list())
        assert values, column
        assert values <= set(V.codes(kind)), (column, values - set(V.codes(kind)))
    flags = {f for cell in segments["red_flags"].drop_nulls() for f in cell.split(",") if f}
    assert flags and flags <= set(V.codes("red_flag")), flags
    for name in ("call_tasks.csv", "mail_tasks.csv"):
        tasks = pl.read_csv(out / name, infer_schema=False)
        assert set(tasks["channel"].to_list()) <= set(V.codes("channel"))
        assert set(tasks["contact_role"].drop_nulls().to_list()) <= set(V.codes("contact_role"))
        assert set(tasks["status"].drop_nulls().to_list()) <= set(V.codes("task_status"))
    rejects = pl.read_csv(out / "rejects.csv", infer_schema=False)
    assert set(rejects["reason"].to_list()) <= set(V.codes("reject_reason"))
