"""Customer-id normalisation and totals markers: properties over generated ids."""

from __future__ import annotations

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from segtool.io.parse import SCIENTIFIC_ID, is_totals_marker, name_key, normalize_id

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=14)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def normalized(values: list[str], inn: bool = False) -> list[str]:
    value, _ = normalize_id(pl.col("v").str.strip_chars(), inn=inn)
    return pl.DataFrame({"v": values}).select(value.alias("v"))["v"].to_list()


@settings(max_examples=60, deadline=None)
@given(DIGITS)
def test_every_spelling_of_a_numeric_id_is_the_same_id(digits):
    spellings = [
        digits,
        f"{digits}.0",
        f"'{digits}",
        f"\u200b{digits}",
        f"{digits}\u00a0",
        digits.translate(FULL_WIDTH),
        f" {digits}.00 ",
    ]
    assert set(normalized(spellings)) == {digits}


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="АВЕКМНОРСТУХABEKMHOPCTYX0123456789-", min_size=1, max_size=10))
def test_normalising_twice_changes_nothing(code):
    once = normalized([code])
    assert normalized(once) == once


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["9", "11"]), DIGITS)
def test_short_inn_gets_its_zero_back(length, digits):
    inn = (digits * 12)[: int(length)]
    assert normalized([inn], inn=True) == ["0" + inn]
    assert normalized([inn], inn=False) == [inn]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["Итого", "ИТОГО", "Всего", "Total", "Grand total", "Subtotal"]),
    st.sampled_from(["", ":", " по клиенту", " по ООО Ромашка", " for March", "."]),
)
def test_totals_markers(word, tail):
    frame = pl.DataFrame({"v": [word + tail, word + "вар", "ООО " + word]})
    assert frame.select(is_totals_marker(pl.col("v")))["v"].to_list() == [True, False, False]


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="абвгдежРомашкаЛютик ", min_size=1, max_size=20),
    st.sampled_from(["ООО", "АО", "ИП", "LLC"]),
)
def test_legal_form_and_quotes_do_not_change_the_name_key(name, form):
    spellings = [f'{form} "{name}"', f"{name} {form}", f"{form} «{name}»", f"{form.lower()} {name}"]
    keys = pl.DataFrame({"v": spellings}).select(name_key(pl.col("v")).alias("v"))["v"].to_list()
    assert len(set(keys)) == 1


ID_CHARS = st.sampled_from(
    list("0123456789") * 4
    + list("AEKXaezЕКМО_/-.,+' ")
    + ["\u200b", "\u00a0", "０", "Итого", "Total", "7,70E+09"]
)


@settings(max_examples=200, deadline=None)
@example(["1e5", "12E3", "Total", " 123456789", "00123456789 ", "КА-001", "A-1.0", " "], True)
@example(["1e5", "77E10", "total", "123456789", "1234567890", "ka-1"], False)
@given(st.lists(st.lists(ID_CHARS, max_size=14).map("".join), max_size=8), st.booleans())
def test_staged_normalisation_gives_what_normalize_id_gives(values, inn):
    from segtool.io.parse import with_normalized_id

    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    trimmed = pl.col("v").str.strip_chars()
    text = pl.when(trimmed != "").then(trimmed)
    value, fix = normalize_id(text, inn=inn)
    expected = frame.select(value.alias("id"), fix.alias("fix"))
    staged = with_normalized_id(frame, "v", text, "id", "fix", "ok", inn=inn)
    assert staged.select("id", "fix").to_dicts() == expected.to_dicts()
    # a canonical id needs no fix and is neither a totals marker nor scientific notation
    canonical = staged.filter(pl.col("ok"))
    assert canonical.get_column("fix").to_list() == [0] * canonical.height
    assert not canonical.select(is_totals_marker(pl.col("v"))).to_series().any()
    assert not canonical.select(pl.col("v").str.contains(SCIENTIFIC_ID)).to_series().any()
