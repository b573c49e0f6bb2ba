"""Checks that task scripts and reasons read as a caller would say them (issue 14).

``problems(text, names)`` lists what is wrong with one text: a snake_case code, ``..``,
a ``{``, a number over 9 999 without a thousands separator, or a feminine past-tense verb
right after one of the company ``names`` («Магазин №3926 долго работала»).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
LONG_NUMBER = re.compile(r"\d{5,}")  # 5+ digits in a row: 12345, 1328415 (not 1 328 415)
# стала, купила, выбрала..., also after one adverb: «долго работала»
FEMININE = re.compile(r"^[»\"]?\s+(?:\w+\s+)?\w+ла\b")


def problems(text: str, names: Iterable[str] = ()) -> list[str]:
    found = []
    if SNAKE.search(text):
        found.append(f"code {SNAKE.search(text).group()!r}")
    if ".." in text:
        found.append("doubled full stop")
    if "{" in text or "}" in text:
        found.append("unfilled placeholder")
    if LONG_NUMBER.search(text):
        found.append(f"number without separators {LONG_NUMBER.search(text).group()!r}")
    for name in names:
        if not name:
            continue
        start = 0
        while (index := text.find(name, start)) >= 0:
            start = index + len(name)
            if FEMININE.match(text[start:]):
                found.append(f"feminine verb after {name!r}: {text[start : start + 20]!r}")
    return found


def check_texts(texts: Iterable[str | None], names: Iterable[str] = ()) -> list[str]:
    """Every problem of every text, as "problem: text" lines (empty when all read well)."""
    names = [n for n in set(names) if n]
    out = []
    for text in texts:
        if text:
            out += [f"{p}: {text}" for p in problems(text, names)]
    return out
