"""Configuration: pydantic models (unknown keys are errors) and :func:`load_config`.

Key names marked *contract* in the docstrings are read by scripts and cron jobs:
change them only with an entry in :data:`RENAMED_KEYS` so old configs keep working.
All periods are in calendar months, all amounts in the input currency.
"""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import hashlib
import math
import re
import reprlib
import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segtool.errors import E_CONFIG_KEY, E_CONFIG_MISSING, E_CONFIG_YAML, ConfigError

DEFAULT_CONFIG_NAME = "segtool.yaml"

# Renamed keys: old dotted path -> new dotted path. Loading maps them with a warning.
RENAMED_KEYS: dict[str, str] = {
    "periods.default.passive_after": "periods.default.falling_asleep_after",
    "periods.default.lost_after": "periods.default.asleep_after",
}


# Bounds: every number has a sane range, checked at load (exit 2 naming the key). Periods
# and windows are at most 50 years, counts of orders at most MAX_COUNT; no float may be
# NaN or infinite (allow_inf_nan=False on every model).
MAX_MONTHS = 600
MAX_DAYS = MAX_MONTHS * 31  # a bound on day counts in playbook conditions
MAX_COUNT = 1_000_000
MAX_GAPS = 1_000.0
MAX_AMOUNT = 1e15
MAX_METRIC = 1e18  # a bound in segments_extra.when


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


# -- inputs ----------------------------------------------------------------------------
class InputFile(Strict):
    """One export. ``path`` may be a glob; relative paths resolve against the config's folder."""

    path: str
    sheet: str | int | None = None  # xlsx: sheet name or 0-based index; default first sheet


class ColumnOverrides(Strict):
    """Header names to use instead of auto-detection: canonical key -> header as written."""

    orders: dict[str, str] = Field(default_factory=dict)
    contacts: dict[str, str] = Field(default_factory=dict)
    companies: dict[str, str] = Field(default_factory=dict)


class Formats(Strict):
    date: Literal["auto", "dmy", "mdy", "ymd"] | str = "auto"
    decimal: Literal["auto", "comma", "point"] = "auto"
    encoding: Literal[
        "auto",
        "utf-8",
        "utf-8-sig",
        "cp1251",
        "latin-1",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "koi8-r",
        "mac-cyrillic",
    ] = "auto"
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    # conversion table: amounts marked in these currencies are multiplied by the rate
    # (unmarked amounts are taken as they are); without it a second currency is rejected
    currency: dict[Literal["RUB", "USD", "EUR", "GBP", "CNY"], float] | None = None


class Inputs(Strict):
    orders: InputFile  # contract: inputs.orders.path
    contacts: InputFile | None = None  # contract: inputs.contacts.path / .sheet
    companies: InputFile | None = None
    columns: ColumnOverrides = Field(default_factory=ColumnOverrides)  # contract
    formats: Formats = Field(default_factory=Formats)


class IngestOptions(Strict):
    drop_duplicates: bool = True
    min_year: int = Field(1900, ge=1800, le=2200)
    max_year: int = Field(2200, ge=1800, le=2200)

    @model_validator(mode="after")
    def _ordered(self) -> IngestOptions:
        if self.min_year > self.max_year:
            raise ValueError(
                f"ingest.min_year ({self.min_year}) is after ingest.max_year ({self.max_year}); "
                "swap them"
            )
        return self


# -- periods (seed 004) ----------------------------------------------------------------
class Period(Strict):
    falling_asleep_after: int = Field(12, ge=1, le=MAX_MONTHS)  # contract
    asleep_after: int = Field(24, ge=1, le=MAX_MONTHS)  # contract

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.asleep_after <= self.falling_asleep_after:
            raise ValueError(
                f"asleep_after ({self.asleep_after}) must be greater than "
                f"falling_asleep_after ({self.falling_asleep_after})"
            )
        return self


DURABLE_MONTHS = 60  # seed 004: a once-a-decade product keeps a customer loyal for 5 years


class CategoryPeriod(Period):
    match: list[str] = Field(min_length=1)  # glob patterns over the category column
    label: str | None = None  # how reasons name it; default: the patterns without wildcards
    # durable goods (renewal, {last_durable_date}); unset: asleep_after of 5 years or more
    durable: bool | None = None

    def is_durable(self) -> bool:
        return self.durable if self.durable is not None else self.asleep_after >= DURABLE_MONTHS

    def display_label(self) -> str:
        return self.label or ", ".join(
            dict.fromkeys(re.sub(r"[*?\[\]!]", "", p).strip() or p for p in self.match)
        )

    @field_validator("match")
    @classmethod
    def _valid_globs(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if not pattern.strip():
                raise ValueError("empty glob pattern")
            try:
                re.compile(fnmatch.translate(pattern))
            except re.error as exc:  # pragma: no cover - fnmatch escapes nearly everything
                raise ValueError(f"bad glob {pattern!r}: {exc}") from exc
            if pattern.count("[") != pattern.count("]"):
                raise ValueError(f"bad glob {pattern!r}: unbalanced [ ]")
        return patterns


class Cadence(Strict):
    enabled: bool = False
    min_orders: int = Field(3, ge=2, le=MAX_COUNT)
    gaps: float = Field(2.0, gt=0, le=MAX_GAPS)


MAX_PERIOD_CATEGORIES = 63  # with the default, one bit each of a 64-bit set per order


class Periods(Strict):
    default: Period = Field(default_factory=Period)  # contract
    categories: dict[str, CategoryPeriod] = Field(default_factory=dict)  # contract
    cadence: Cadence = Field(default_factory=Cadence)

    @field_validator("categories")
    @classmethod
    def _not_too_many(cls, value: dict[str, CategoryPeriod]) -> dict[str, CategoryPeriod]:
        if len(value) > MAX_PERIOD_CATEGORIES:
            raise ValueError(
                f"{len(value)} categories, at most {MAX_PERIOD_CATEGORIES}: group the "
                "categories with the same periods under one entry (match takes several globs)"
            )
        return value


# -- stages (seed 003) -----------------------------------------------------------------
class StageThreshold(Strict):
    min_orders: int = Field(ge=1, le=MAX_COUNT)


class Stages(Strict):
    regular: StageThreshold = Field(default_factory=lambda: StageThreshold(min_orders=5))
    prospective: StageThreshold = Field(default_factory=lambda: StageThreshold(min_orders=2))

    @model_validator(mode="after")
    def _ordered(self) -> Stages:
        if not 1 < self.prospective.min_orders < self.regular.min_orders:
            raise ValueError(
                "need 1 < prospective.min_orders < regular.min_orders, got "
                f"{self.prospective.min_orders} and {self.regular.min_orders}"
            )
        return self


# -- grades (seed 000) -----------------------------------------------------------------
Criterion = Literal["recency", "frequency", "size", "margin"]
SizeClass = Literal["micro", "small", "medium", "large"]
Grade = Literal["A", "B", "C"]
CRITERIA: tuple[Criterion, ...] = ("recency", "frequency", "size", "margin")
SIZE_CLASS_GRADES: dict[SizeClass, Grade] = {
    "large": "A",
    "medium": "A",
    "small": "B",
    "micro": "C",
}


class Shares(Strict):
    A: float = Field(0.2, gt=0, lt=1)
    B: float = Field(0.3, gt=0, lt=1)

    @model_validator(mode="after")
    def _sum(self) -> Shares:
        if self.A + self.B >= 1:
            raise ValueError(f"A + B must be below 1 (C is the rest), got {self.A + self.B}")
        return self


class ParetoShares(Strict):
    A: float = Field(0.8, gt=0, lt=1)  # customers making the first 80 % of the value
    B: float = Field(0.95, gt=0, lt=1)  # ... up to 95 %; C the rest

    @model_validator(mode="after")
    def _ordered(self) -> ParetoShares:
        if self.B <= self.A:
            raise ValueError("pareto.B (cumulative share) must be greater than pareto.A")
        return self


class FixedThreshold(Strict):
    """Fixed thresholds: A at or better than ``A``, B at or better than ``B``.

    "Better" is lower for recency (days), higher for the other criteria.
    """

    A: float = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    B: float = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)


class HighMargin(Strict):
    categories: list[str] = Field(default_factory=list)  # globs of high-margin categories
    min_margin_rate: float | None = Field(0.3, ge=-1, le=1)  # or lines with a margin rate above


class Grades(Strict):
    method: Literal["quantile", "pareto", "fixed"] = "quantile"
    shares: Shares = Field(default_factory=Shares)
    pareto: ParetoShares = Field(default_factory=ParetoShares)
    fixed: dict[Criterion, FixedThreshold] = Field(default_factory=dict)
    criteria: list[Criterion] = Field(default_factory=lambda: list(CRITERIA), min_length=1)
    high_margin: HighMargin = Field(default_factory=HighMargin)
    # size grade of customers with a known size class; the rest by 12-month revenue
    size_class_grades: dict[SizeClass, Grade] = Field(
        default_factory=lambda: dict(SIZE_CLASS_GRADES)
    )

    @model_validator(mode="after")
    def _fixed_complete(self) -> Grades:
        if self.method == "fixed":
            missing = [c for c in self.criteria if c not in self.fixed]
            if missing:
                raise ValueError(
                    "method 'fixed' needs grades.fixed.<criterion>: {A: .., B: ..} for "
                    + ", ".join(missing)
                )
        return self


# -- red flags (seed 000) ----------------------------------------------------------------
class RevenueDrop(Strict):
    enabled: bool = True
    window: int = Field(12, ge=1, le=MAX_MONTHS)  # months
    min_drop: float = Field(0.5, gt=0, le=1)  # share lost vs the previous window
    # one purchase (a machine bought once) followed by nothing is not a drop in engagement
    min_orders: int = Field(2, ge=1, le=MAX_COUNT)


class Overdue(Strict):
    enabled: bool = True
    gaps: float = Field(2.0, gt=0, le=MAX_GAPS)
    min_orders: int = Field(3, ge=2, le=MAX_COUNT)


class LostCategory(Strict):
    enabled: bool = True
    window: int = Field(12, ge=1, le=MAX_MONTHS)  # bought in the previous window, not the last


class RedFlags(Strict):
    revenue_drop: RevenueDrop = Field(default_factory=RevenueDrop)
    overdue: Overdue = Field(default_factory=Overdue)
    lost_category: LostCategory = Field(default_factory=LostCategory)


# -- custom segment rules (like R rfm's segment table) ----------------------------------
class ExtraRule(Strict):
    """First matching rule names the customer's ``segment_extra``.

    ``when`` maps a metric (any column of the scores, e.g. ``recency_days`` or
    ``recency_score``) to a ``[min, max]`` range (inclusive; null = open) or a list of
    allowed values (a two-item list of numbers or nulls is a range; any other list is a
    set of values), or one value. An empty ``when`` is a catch-all.
    """

    name: str
    label_ru: str | None = None
    label_en: str | None = None
    when: dict[str, list[Any] | float | int | str] = Field(default_factory=dict)

    @field_validator("when")
    @classmethod
    def _finite(cls, when: dict[str, Any]) -> dict[str, Any]:
        for metric, bound in when.items():
            for value in bound if isinstance(bound, list) else [bound]:
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"when.{metric}: {value} is not a finite number")
                if isinstance(value, int | float) and not -MAX_METRIC <= value <= MAX_METRIC:
                    raise ValueError(f"when.{metric}: a number beyond ±{MAX_METRIC:.0e}")
        return when


# -- contacts: inference of role, company type and size (seed 001) ------------------------
class RoleKeywords(Strict):
    decision_maker: list[str] = Field(
        default_factory=lambda: [
            "директор",
            "руководител",
            "владел",
            "собственник",
            "учредител",
            "president",
            "owner",
            "ceo",
            "cfo",
            "coo",
            "director",
            "head",
            "founder",
            "генеральн",
        ]
    )
    purchaser: list[str] = Field(
        default_factory=lambda: [
            "закупк",
            "закупщ",
            "снабжен",
            "снабженц",
            "логист",
            "procurement",
            "purchas",
            "buyer",
            "supply",
            "офис-менеджер",
            "менеджер по закуп",
        ]
    )
    user: list[str] = Field(
        default_factory=lambda: [
            "инженер",
            "технолог",
            "механик",
            "мастер",
            "энергетик",
            "прораб",
            "бригадир",
            "engineer",
            "technician",
            "operator",
            "production",
        ]
    )


class CompanyTypeKeywords(Strict):
    government: list[str] = Field(
        default_factory=lambda: [
            "гбу",
            "мбу",
            "фгуп",
            "гуп",
            "муп",
            "фгбу",
            "гку",
            "мку",
            "учреждени",
            "администрац",
            "министерств",
            "school",
            "hospital",
            "university",
            "municipal",
            "government",
        ]
    )
    manufacturing: list[str] = Field(
        default_factory=lambda: [
            "завод",
            "производств",
            "фабрик",
            "комбинат",
            "мануфактур",
            "plant",
            "factory",
            "manufactur",
            "works",
            "industries",
        ]
    )
    trading: list[str] = Field(
        default_factory=lambda: [
            "торговый дом",
            "дистрибуц",
            "дистрибьют",
            "опт",
            "снаб",
            "trading",
            "distribut",
            "wholesale",
            "supply",
        ]
    )
    shop: list[str] = Field(
        default_factory=lambda: ["ип ", "магазин", "лавка", "shop", "store", "market", "retail"]
    )

    def table(self) -> list[tuple[str, list[str]]]:
        """(type, keywords) in the order they are tried: the first that matches wins."""
        return [
            ("government", self.government),
            ("manufacturing", self.manufacturing),
            ("trading", self.trading),
            ("shop", self.shop),
        ]


class SizeLimits(Strict):
    small: float = Field(gt=0, le=MAX_AMOUNT)
    medium: float = Field(gt=0, le=MAX_AMOUNT)
    micro: float | None = Field(None, gt=0, le=MAX_AMOUNT)  # up to this: micro; none: no micro

    @model_validator(mode="after")
    def _ordered(self) -> SizeLimits:
        if self.medium <= self.small:
            raise ValueError(f"medium ({self.medium:g}) must be above small ({self.small:g})")
        if self.micro is not None and self.micro >= self.small:
            raise ValueError(f"micro ({self.micro:g}) must be below small ({self.small:g})")
        return self


class SizeClasses(Strict):
    """Russia's SME limits by default: turnover in RUB, headcount in people."""

    turnover: SizeLimits = Field(
        default_factory=lambda: SizeLimits(micro=120e6, small=800e6, medium=2e9)
    )
    headcount: SizeLimits = Field(
        default_factory=lambda: SizeLimits(micro=15, small=100, medium=250)
    )


class Inference(Strict):
    roles: RoleKeywords = Field(default_factory=RoleKeywords)
    company_types: CompanyTypeKeywords = Field(default_factory=CompanyTypeKeywords)
    size_classes: SizeClasses = Field(default_factory=SizeClasses)


# -- tactics and tasks ------------------------------------------------------------------
Role = Literal["purchaser", "user", "decision_maker"]
OutputFormat = Literal["xlsx", "csv"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("xlsx", "csv")


def _default_role_order() -> dict[Role, list[str]]:
    return {
        "purchaser": ["purchaser", "decision_maker", "user", "unknown"],
        "user": ["user", "purchaser", "decision_maker", "unknown"],
        "decision_maker": ["decision_maker", "purchaser", "user", "unknown"],
    }


class Routing(Strict):
    # which role to try next when the tactic's role has nobody reachable; `unknown` last
    role_order: dict[Role, list[str]] = Field(default_factory=_default_role_order)


class Tasks(Strict):
    max_per_customer: int = Field(3, ge=1, le=100)
    max_calls_per_customer: int = Field(1, ge=1, le=100)  # calls and surveys per customer
    max_emails_per_customer: int = Field(1, ge=1, le=100)  # email, InMail, messenger
    period: Literal["month", "week", "quarter"] = "month"  # task ids are stable per period


class OwnerCapacity(Strict):
    """What one team member can do in a week (ISO week, Monday to Sunday); a channel left
    out has no cap for that person."""

    calls_per_week: int | None = Field(None, ge=0, le=100_000)  # calls and surveys
    emails_per_week: int | None = Field(None, ge=0, le=1_000_000)  # email, InMail, messenger


class Owners(Strict):
    """Who works the tasks (docs/playbook.md, "Capacity and deferral").

    ``team``: name -> weekly capacity. A task goes to the customer's account manager (the
    contacts' ``owner`` column) when that person is in the team, else by ``assign``:
    ``account_manager`` gives it to ``default``, ``balanced`` spreads customers over the
    team by call capacity and keeps a customer with the same person from month to month
    (with the history on). Without ``team`` nobody's work is capped.
    """

    default: str = "Отдел продаж"
    team: dict[str, OwnerCapacity] | None = None
    assign: Literal["account_manager", "balanced"] = "account_manager"

    @field_validator("team")
    @classmethod
    def _team_names(cls, team: dict[str, OwnerCapacity] | None) -> dict[str, OwnerCapacity] | None:
        if team is None:
            return None
        if not team:
            raise ValueError("an empty team: list at least one person, or leave owners.team out")
        blank = [name for name in team if not str(name).strip()]
        if blank:
            raise ValueError(
                "a team member's name is empty; write the name as in the contacts' owner column"
            )
        return {str(name).strip(): capacity for name, capacity in team.items()}


# Russian public holidays that fall on a weekday, with the days off moved by the
# government's yearly decree on moving days off (see docs/playbook.md, "Working days").
RU_HOLIDAYS: tuple[str, ...] = (
    # 2026: Labour Code art. 112 + the decree on moving days off in 2026 (Jan 3 -> Jan 9,
    # Jan 4 -> Dec 31); Mar 8 (Sun) -> Mar 9, May 9 (Sat) -> May 11 by art. 112 itself
    "2026-01-01",
    "2026-01-02",
    "2026-01-05",
    "2026-01-06",
    "2026-01-07",
    "2026-01-08",
    "2026-01-09",
    "2026-02-23",
    "2026-03-09",
    "2026-05-01",
    "2026-05-11",
    "2026-06-12",
    "2026-11-04",
    "2026-12-31",
    # 2027: art. 112 (May 1 Sat -> May 3, May 9 Sun -> May 10, Jun 12 Sat -> Jun 14); the
    # decree moving Jan 2-3 of 2027 is not included: add its days when it is published
    "2027-01-01",
    "2027-01-04",
    "2027-01-05",
    "2027-01-06",
    "2027-01-07",
    "2027-01-08",
    "2027-02-23",
    "2027-03-08",
    "2027-05-03",
    "2027-05-10",
    "2027-06-14",
    "2027-11-04",
)


class Calendar(Strict):
    """Days no task falls due on, besides Saturdays and Sundays."""

    holidays: list[dt.date] = Field(
        default_factory=lambda: [dt.date.fromisoformat(d) for d in RU_HOLIDAYS]
    )


# -- export -----------------------------------------------------------------------------
class CsvOptions(Strict):
    """``dialect: machine`` (default; the contract: ',' unless set, '.' decimals, ISO dates) or
    ``excel-ru`` (for Excel with Russian regional settings: ';', UTF-8 with a BOM, decimal
    comma, dd.mm.yyyy dates). Headers stay snake_case keys and code columns codes either way.
    """

    dialect: Literal["machine", "excel-ru"] = "machine"
    delimiter: Literal[",", ";", "\t", "|"] = ","  # contract default: ','
    bom: bool = False
    encoding: Literal["utf-8", "cp1251"] = "utf-8"

    @model_validator(mode="after")
    def _dialect_defaults(self) -> CsvOptions:
        if self.dialect != "excel-ru":
            return self
        if "delimiter" not in self.model_fields_set:
            self.delimiter = ";"
        elif self.delimiter == ",":
            raise ValueError(
                "delimiter ',' cannot be used with dialect excel-ru (its numbers have a "
                "decimal comma); leave export.csv.delimiter out or set it to ';'"
            )
        if "bom" not in self.model_fields_set:
            self.bom = True
        return self

    @property
    def decimal_comma(self) -> bool:
        return self.dialect == "excel-ru"

    @property
    def date_format(self) -> str:
        return "%d.%m.%Y" if self.dialect == "excel-ru" else "%Y-%m-%d"


class XlsxOptions(Strict):
    max_rows: int = Field(1_048_575, ge=100, le=1_048_575)  # Excel's limit minus the header


class ExportOptions(Strict):
    csv: CsvOptions = Field(default_factory=CsvOptions)
    xlsx: XlsxOptions = Field(default_factory=XlsxOptions)
    formats: list[OutputFormat] = Field(default_factory=lambda: list(OUTPUT_FORMATS))


class ModelOptions(Strict):
    """BG/NBD + Gamma-Gamma per run (segtool.steps.model; docs/definitions.md)."""

    enabled: bool = True
    horizon_days: int = Field(90, ge=1, le=3650)  # expected orders and revenue over this
    alert_below: float = Field(0.2, ge=0, le=1)  # red flag probably_left: active, p_alive below


class Limits(Strict):
    max_reject_rate: float = Field(0.05, ge=0, le=1)


class History(Strict):
    """The contact history (docs/history.md): a SQLite file kept across runs."""

    path: str | None = "segtool-history.db"  # relative to the config file; null = off
    done_cooldown_months: int = Field(3, ge=0, le=120)  # a done step is not issued again
    refused_cooldown_months: int = Field(6, ge=0, le=120)  # no task on a refused channel


class Experiments(Strict):
    """Control groups and variants (docs/effectiveness.md)."""

    holdout: float = Field(0.0, ge=0, lt=1)  # share of matched customers kept as the control
    experiment: str = Field("", max_length=100)  # change it to start a new test (new arms)


class Effectiveness(Strict):
    """How response to a tactic is measured (docs/effectiveness.md)."""

    window_days: int = Field(90, ge=1, le=MAX_DAYS)  # orders this many days after a run count


# -- the whole file ---------------------------------------------------------------------
class Config(Strict):
    language: Literal["ru", "en"] = "ru"  # contract
    inputs: Inputs
    ingest: IngestOptions = Field(default_factory=IngestOptions)
    periods: Periods = Field(default_factory=Periods)
    stages: Stages = Field(default_factory=Stages)
    grades: Grades = Field(default_factory=Grades)
    red_flags: RedFlags = Field(default_factory=RedFlags)
    model: ModelOptions = Field(default_factory=ModelOptions)
    segments_extra: list[ExtraRule] = Field(default_factory=list)
    inference: Inference = Field(default_factory=Inference)
    playbook: str | None = "playbook.yaml"  # path, relative to the config file
    tactics: list[dict[str, Any]] | None = None  # inline playbook instead of a file
    routing: Routing = Field(default_factory=Routing)
    tasks: Tasks = Field(default_factory=Tasks)
    owners: Owners = Field(default_factory=Owners)
    calendar: Calendar = Field(default_factory=Calendar)
    export: ExportOptions = Field(default_factory=ExportOptions)
    limits: Limits = Field(default_factory=Limits)
    history: History = Field(default_factory=History)
    experiments: Experiments = Field(default_factory=Experiments)
    effectiveness: Effectiveness = Field(default_factory=Effectiveness)
    workspace: str | None = None  # default: .segtool in the current folder

    # set by load_config, not by the user
    base_dir: Path = Field(default=Path("."), exclude=True)
    source_path: Path | None = Field(default=None, exclude=True)
    source_sha256: str | None = Field(default=None, exclude=True)

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def playbook_path(self) -> Path | None:
        if self.tactics is not None or not self.playbook:
            return None
        return self.resolve(self.playbook)

    def workspace_path(self) -> Path:
        """``workspace`` from the config (relative to it), else ``.segtool`` in the cwd."""
        return self.resolve(self.workspace) if self.workspace else Path(".segtool")


# -- YAML loading with precise errors -----------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader (no code execution) that refuses duplicate keys instead of keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# YAML anchors and aliases are allowed, but the document they expand to is bounded: a few
# hundred bytes of nested aliases (an "alias bomb") would otherwise expand to billions of
# values when validated. Checked on the node graph, before anything is built.
MAX_YAML_VALUES = 100_000


def _expanded_size(root: yaml.Node, limit: int) -> int | None:
    """How many values the document holds with every alias expanded (counting stops past
    ``limit``); None for an alias that refers to itself. Linear in the number of nodes."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int | None:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            return None
        visiting.add(key)
        total = 1
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        for child in children:
            inner = size(child)
            if inner is None:
                return None
            total = min(total + inner, limit + 1)
        visiting.discard(key)
        sizes[key] = total
        return total

    depth = sys.getrecursionlimit()
    sys.setrecursionlimit(max(depth, 10_000))
    try:
        return size(root)
    except RecursionError:
        return limit + 1
    finally:
        sys.setrecursionlimit(depth)


def _load_bounded(text: str, path: Path) -> Any:
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        total = _expanded_size(node, MAX_YAML_VALUES)
        if total is None or total > MAX_YAML_VALUES:
            what = (
                "an alias that refers to itself"
                if total is None
                else (f"aliases that expand to more than {MAX_YAML_VALUES:,} values")
            )
            raise ConfigError(
                f"{path}:{node.start_mark.line + 1}: the YAML holds {what}; write the "
                "values out instead of using * aliases",
                code=E_CONFIG_YAML,
                file=path,
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    """Parse a YAML file safely; any problem becomes a one-line :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found (create one with: segtool init)",
            code=E_CONFIG_MISSING,
            file=path,
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML file", file=path) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the file as UTF-8", file=path) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}", file=path) from None
    try:
        return _load_bounded(text, path)  # a SafeLoader subclass: never runs code
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        tab = "\t" in problem or "\\t" in problem or "tab" in problem
        hint = " (YAML does not allow tabs for indentation; use spaces)" if tab else ""
        if "could not determine a constructor" in problem:
            hint = " (tags such as !!python/... are not allowed: segtool never runs code from YAML)"
        raise ConfigError(
            f"{path}{where}: {problem}{hint}",
            code=E_CONFIG_YAML,
            file=path,
            row=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}", code=E_CONFIG_YAML, file=path) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ConfigError(
            f"{path}: a value cannot be read: {str(exc)[:100]}", code=E_CONFIG_YAML, file=path
        ) from None


def _apply_renames(data: dict[str, Any], warnings: list[str]) -> None:
    for old, new in RENAMED_KEYS.items():
        *parents, leaf = old.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and leaf in node:
            new_leaf = new.split(".")[-1]
            node.setdefault(new_leaf, node.pop(leaf))
            warnings.append(f"config key {old} is now {new}; please rename it")


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found by walking ``loc`` from ``model`` (for suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Find the BaseModel inside Optional[...], list[...], dict[str, ...] annotations."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def format_validation_error(
    exc: ValidationError, root: type[BaseModel], source: Path, data: Any = None
) -> str:
    """The first problem of a pydantic error as one line naming the key path and the fix."""
    # a misspelt key shows up twice (unknown + missing): the unknown one explains both
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    path = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(root, loc[:-1])
        key = str(loc[-1])
        msg = f"{source}: unknown key '{path}'"
        if parent is not None:
            names = [n for n, f in parent.model_fields.items() if not f.exclude]
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
            if close:
                msg += f"; did you mean '{_dotted(loc[:-1] + (close[0],))}'?"
            else:
                msg += f"; valid keys here: {', '.join(names)}"
        return msg
    if kind == "missing":
        return f"{source}: missing key '{path}'; add it (see: segtool init)"
    value = err.get("input")
    shown = _SHORT.repr(value) if not isinstance(value, dict) else "a mapping"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    expected = err["msg"]
    if kind in {"literal_error", "enum"}:
        return f"{source}: key '{path}' = {shown}: {expected}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{source}: key '{path}' = {shown}: wrong type, {expected.lower()}"
    if path:
        return f"{source}: key '{path}' = {shown}: {expected}"
    return f"{source}: {expected}"


# the value shown in an error: a few items and characters at most, however large it is
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxtuple, _SHORT.maxdict = 2, 4, 4, 4
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def validate_model(model: type[BaseModel], data: Any, source: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(exc, model, source, data),
            code=E_CONFIG_KEY,
            file=source,
            key=validation_error_key(exc),
        ) from None


def validation_error_key(exc: ValidationError) -> str | None:
    """The dotted key path of the problem :func:`format_validation_error` reports."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(
        p for p in errors[0]["loc"] if not (isinstance(p, str) and p.startswith("function-"))
    )
    return _dotted(loc) or None


def load_config(path: str | Path, warnings: list[str] | None = None) -> Config:
    """Read, validate and resolve a config file; raises :class:`ConfigError` (exit 2)."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        raise ConfigError(
            f"{path}: the file is empty; it needs at least inputs.orders.path", file=path
        )
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top, got {type(data).__name__}", file=path
        )
    _apply_renames(data, warnings if warnings is not None else [])
    cfg = validate_model(Config, data, path)
    cfg.base_dir = path.resolve().parent
    cfg.source_path = path.resolve()
    cfg.source_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return cfg


def config_for_orders(orders_path: str | Path, **extra: Any) -> Config:
    """A default config for one orders file (used by tests and ``inspect``)."""
    cfg = Config.model_validate({"inputs": {"orders": {"path": str(orders_path)}}, **extra})
    cfg.base_dir = Path.cwd()
    return cfg
