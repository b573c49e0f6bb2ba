"""The playbook: an ordered list of tactics that turn segments into tasks.

A tactic says *who* (``when``: a condition on the customer's segment, grades, red flags,
company type, size...), *how* (``action`` and ``fallback`` channels, contact ``role``),
*when* (``due_in_days``, optional ``steps`` for a sequence) and *what* (``script`` and
``offer`` in Russian and English). See docs/playbook.md for every key.

The playbook is read from the config's ``playbook`` file, from inline ``tactics`` in the
config, or from the packaged default (``segtool/defaults/playbook.yaml``) when the file the
config names by default is absent. Validation errors are one line naming the tactic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from segtool import schema
from segtool import vocabulary as V
from segtool.config import (
    MAX_AMOUNT,
    MAX_COUNT,
    MAX_DAYS,
    MAX_MONTHS,
    Config,
    format_validation_error,
    read_yaml,
    validation_error_key,
)
from segtool.errors import E_PLAYBOOK, ConfigError

DEFAULT_PLAYBOOK = Path(__file__).parent / "defaults" / "playbook.yaml"

Channel = Literal["call", "email", "mail", "inmail", "chatbot", "survey"]
Role = Literal["purchaser", "user", "decision_maker"]

CHANNELS: tuple[str, ...] = V.codes("channel")  # the same as Channel (a test checks)
RED_FLAGS: tuple[str, ...] = V.codes("red_flag")
# placeholders a script or offer may use (filled per task; see docs/playbook.md)
PLACEHOLDERS: tuple[str, ...] = (
    "company_name",
    "contact_name",
    "last_order_date",
    "months_since",
    "orders",
    "owner",
    "greeting",
    "last_durable_date",
    "time_since_last_order",
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ABC = re.compile(r"^[ABC\-*?]+$")


class _Strict(BaseModel):
    # no NaN or infinity in any number (exit 2 naming the key, as in the config)
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class Text(_Strict):
    """A text in both languages; a plain string in YAML is used for both."""

    ru: str = ""
    en: str = ""

    def get(self, language: str) -> str:
        first, second = (self.ru, self.en) if language == "ru" else (self.en, self.ru)
        return first or second


def _as_text(value):
    if isinstance(value, str):
        return {"ru": value, "en": value}
    return value


def _as_list(value):
    if isinstance(value, (str, bool, int, float)):
        return [value]
    return value


class Condition(_Strict):
    """Who a tactic is for. Every key given must hold; a list means "any of these".

    An empty condition matches every customer.
    """

    segment: list[str] | None = None
    stage: list[str] | None = None
    activity: list[str] | None = None
    abc: list[str] | None = None  # glob patterns over the grade letters, e.g. A***, ?A??
    priority: bool | None = None  # all grades A
    red_flags: list[str] | None = None  # has any of these red flags
    company_type: list[str] | None = None
    size_class: list[str] | None = None
    period_category: list[str] | None = None  # category whose periods decided the activity
    durable: bool | None = None  # true: bought from a durable period category
    min_cycle_share: float | None = Field(None, ge=0, le=100)  # months since it / asleep_after
    max_cycle_share: float | None = Field(None, ge=0, le=100)
    min_months_since: float | None = Field(None, ge=0, le=MAX_MONTHS)  # since the last order
    max_months_since: float | None = Field(None, ge=0, le=MAX_MONTHS)
    min_orders: int | None = Field(None, ge=0, le=MAX_COUNT)
    min_expected_value: float | None = Field(None, ge=0, le=MAX_AMOUNT)
    max_days_since_first_order: int | None = Field(None, ge=0, le=MAX_DAYS)  # inclusive
    min_days_since_last_order: int | None = Field(None, ge=0, le=MAX_DAYS)  # inclusive
    max_days_since_last_order: int | None = Field(None, ge=0, le=MAX_DAYS)  # inclusive
    min_p_alive: float | None = Field(None, ge=0, le=1)  # the model's P(alive); no model: no match
    max_p_alive: float | None = Field(None, ge=0, le=1)

    _lists = field_validator(
        "segment",
        "stage",
        "activity",
        "abc",
        "red_flags",
        "company_type",
        "size_class",
        "period_category",
        mode="before",
    )(lambda value: _as_list(value))


class Step(_Strict):
    """One touch of a sequence; unset keys are taken from the tactic."""

    day: int = Field(0, ge=0, le=365)  # days after the tactic's first due date
    action: Channel | None = None
    role: Role | None = None
    fallback: list[Channel] | None = None
    script: Text | None = None
    offer: Text | None = None

    _texts = field_validator("script", "offer", mode="before")(lambda value: _as_text(value))


class Variant(_Strict):
    """One arm of a test: unset keys are the tactic's own (docs/effectiveness.md)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=40)  # `variant` column
    weight: float = Field(1.0, gt=0, le=1000)  # share of the treated customers, relatively
    script: Text | None = None
    offer: Text | None = None
    action: Channel | None = None  # another channel (its fallbacks stay the tactic's)
    due_in_days: int | None = Field(None, ge=0, le=365)  # another timing

    _texts = field_validator("script", "offer", mode="before")(lambda value: _as_text(value))


class Tactic(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # code written to the `tactic` column
    label: Text = Field(default_factory=Text)
    when: Condition = Field(default_factory=Condition)
    action: Channel
    role: Role = "purchaser"
    fallback: list[Channel] = Field(default_factory=list)
    due_in_days: int = Field(7, ge=0, le=365)
    steps: list[Step] | None = Field(None, min_length=1)
    script: Text = Field(default_factory=Text)
    offer: Text = Field(default_factory=Text)
    priority: int = Field(3, ge=1, le=9)  # 1 = most urgent
    weight: float = Field(0.1, ge=0, le=10)  # expected_value = weight × avg_order_value
    stop: bool = False  # when it matches, later tactics are skipped for the customer
    holdout: float | None = Field(None, ge=0, lt=1)  # control share; default experiments.holdout
    variants: list[Variant] | None = Field(None, min_length=1, max_length=26)

    _texts = field_validator("label", "script", "offer", mode="before")(
        lambda value: _as_text(value)
    )

    def with_variant(self, variant: Variant | None) -> Tactic:
        """This tactic as one variant runs it: the variant's keys over the tactic's."""
        if variant is None:
            return self
        update: dict[str, object] = {}
        for key in ("script", "offer", "action", "due_in_days"):
            value = getattr(variant, key)
            if value is not None:
                update[key] = value
        return self.model_copy(update=update)

    def resolved_steps(self) -> list[ResolvedStep]:
        """The touches of this tactic, numbered from 1, with defaults filled in."""
        steps = self.steps or [Step(day=0)]
        out = []
        for number, step in enumerate(steps, start=1):
            action = step.action or self.action
            fallback = step.fallback if step.fallback is not None else self.fallback
            channels = [action] + [c for c in fallback if c != action]
            out.append(
                ResolvedStep(
                    number=number,
                    day=self.due_in_days + step.day,
                    channels=list(dict.fromkeys(channels)),
                    role=step.role or self.role,
                    script=step.script or self.script,
                    offer=step.offer or self.offer,
                )
            )
        return out


class ResolvedStep(BaseModel):
    number: int
    day: int  # days after as_of
    channels: list[str]  # the action first, then fallbacks
    role: str
    script: Text
    offer: Text


class Playbook(_Strict):
    tactics: list[Tactic] = Field(default_factory=list)
    source: str = Field(default="", exclude=True)


# -- loading ------------------------------------------------------------------------------
def load_playbook(cfg: Config) -> Playbook:
    """The playbook the config asks for (file, inline ``tactics`` or the packaged default)."""
    if cfg.tactics is not None:
        source = cfg.source_path or Path("config")
        return _validate({"tactics": cfg.tactics}, source, cfg)
    path = cfg.playbook_path()
    default_name = Config.model_fields["playbook"].default
    if path is None or (not path.exists() and cfg.playbook == default_name):
        path = DEFAULT_PLAYBOOK
    return read_playbook(path, cfg)


def read_playbook(path: Path, cfg: Config) -> Playbook:
    data = read_yaml(path)
    if data is None:
        raise ConfigError(
            f"{path}: the playbook is empty; it needs a list under 'tactics'", file=path
        )
    if isinstance(data, list):
        raise ConfigError(f"{path}: put the list of tactics under a 'tactics:' key", file=path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with 'tactics', got {type(data).__name__}", file=path
        )
    return _validate(data, path, cfg)


def _validate(data: dict, source: Path, cfg: Config) -> Playbook:
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        message = format_validation_error(exc, Playbook, source, data)
        loc = exc.errors()[0]["loc"]
        if len(loc) >= 2 and loc[0] == "tactics" and isinstance(loc[1], int):
            tactics = data.get("tactics") or []
            item = tactics[loc[1]] if loc[1] < len(tactics) else None
            name = item.get("id") if isinstance(item, dict) else None
            if name:
                message = message.replace(f"tactics[{loc[1]}]", f"tactics[{loc[1]}] ({name})", 1)
        raise ConfigError(
            message, code=E_PLAYBOOK, file=source, key=validation_error_key(exc)
        ) from None
    playbook.source = str(source)
    _check(playbook, source, cfg)
    return playbook


def _bad(source: Path, tactic: Tactic, what: str) -> ConfigError:
    return ConfigError(
        f"{source}: tactic '{tactic.id}': {what}",
        code=E_PLAYBOOK,
        file=source,
        key=f"tactics.{tactic.id}",
    )


def _check_codes(source, tactic, key, values, valid) -> None:
    for value in values or []:
        if value not in valid:
            raise _bad(
                source,
                tactic,
                f"unknown {key.replace('_', ' ')} {value!r} in when.{key}; "
                f"valid: {', '.join(valid)}",
            )


def _check(playbook: Playbook, source: Path, cfg: Config) -> None:
    """Checks pydantic cannot make alone: codes, placeholders, ids, the task cap."""
    seen: set[str] = set()
    n_criteria = len(cfg.grades.criteria)
    categories = tuple(cfg.periods.categories)
    for tactic in playbook.tactics:
        if tactic.id in seen:
            raise _bad(source, tactic, "the id is used by an earlier tactic; ids must be unique")
        seen.add(tactic.id)
        when = tactic.when
        _check_codes(source, tactic, "segment", when.segment, schema.SEGMENTS)
        _check_codes(source, tactic, "stage", when.stage, schema.STAGES)
        _check_codes(source, tactic, "activity", when.activity, schema.ACTIVITIES)
        _check_codes(source, tactic, "red_flags", when.red_flags, RED_FLAGS)
        _check_codes(source, tactic, "company_type", when.company_type, schema.COMPANY_TYPES)
        _check_codes(source, tactic, "size_class", when.size_class, schema.SIZE_CLASSES)
        if when.period_category:
            _check_codes(
                source,
                tactic,
                "period_category",
                when.period_category,
                categories or ("(none: the config has no periods.categories)",),
            )
        for pattern in when.abc or []:
            upper = pattern.upper()
            if not _ABC.match(upper):
                raise _bad(
                    source,
                    tactic,
                    f"abc pattern {pattern!r}: use the letters A, B, C, - and the wildcards "
                    "* (any letters) and ? (one letter), e.g. A*** or ?A??",
                )
            if "*" not in upper and len(upper) != n_criteria:
                raise _bad(
                    source,
                    tactic,
                    f"abc pattern {pattern!r} has {len(upper)} letters but the config grades "
                    f"{n_criteria} criteria ({', '.join(cfg.grades.criteria)})",
                )
        variant_ids = [v.id for v in tactic.variants or []]
        for name in variant_ids:
            if name in ("holdout", "all"):
                raise _bad(source, tactic, f"variant id {name!r} is reserved; choose another")
        if len(set(variant_ids)) != len(variant_ids):
            raise _bad(source, tactic, "two variants have the same id; variant ids must differ")
        steps = tactic.resolved_steps()
        if len(steps) > cfg.tasks.max_per_customer:
            raise _bad(
                source,
                tactic,
                f"{len(steps)} steps but tasks.max_per_customer is {cfg.tasks.max_per_customer}; "
                "shorten the sequence or raise the cap",
            )
        texts = [tactic.script, tactic.offer] + [s.script for s in steps] + [s.offer for s in steps]
        for variant in tactic.variants or []:
            texts += [t for t in (variant.script, variant.offer) if t is not None]
        for text in texts:
            for value in (text.ru, text.en):
                for name in _PLACEHOLDER.findall(value):
                    if name not in PLACEHOLDERS:
                        raise _bad(
                            source,
                            tactic,
                            f"unknown placeholder {{{name}}} in a script or offer; valid: "
                            + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
                        )
