"""One vocabulary: every code segtool writes or reads, defined once with its labels.

Codes (``regular_asleep``, ``overdue``, ``inmail``...) are what files and scripts carry;
the labels are what people read in workbooks and console lines, in the config's
``language`` (ru | en). Each kind of code is an ordered table of :class:`Term`; the order
is the order of rows and columns in the workbooks. ``meta`` holds what else the code needs:
for a channel the keywords of a "preferred channel" cell, which task sheet it goes to and
which consent flag stops it; for a company type or role the keywords of its cells.

Everything else reads from here: :mod:`segtool.labels` (segment, stage, activity, strategy,
red-flag labels), the label tables of :mod:`segtool.steps.export` and
:mod:`segtool.steps.migration`, the keyword lists of :mod:`segtool.io.parse`, the channel
groups of :mod:`segtool.steps.tactics` and the code tuples of :mod:`segtool.schema`.
Adding a red flag or a channel is an entry here plus the code that computes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LANGUAGES = ("ru", "en")


@dataclass(frozen=True)
class Term:
    code: str
    ru: str
    en: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    def label(self, language: str) -> str:
        return self.ru if language == "ru" else self.en


def _table(*terms: Term) -> dict[str, Term]:
    return {t.code: t for t in terms}


STAGE = _table(
    Term("new", "Новый", "New"),
    Term("prospective", "Перспективный", "Prospective"),
    Term("regular", "Постоянный", "Regular"),
)

ACTIVITY = _table(
    Term("active", "активный", "active"),
    Term("falling_asleep", "засыпающий", "falling asleep"),
    Term("asleep", "уснувший", "asleep"),
)

# segment -> strategy (seed 003; seed 002 for leads)
SEGMENT = _table(
    *(
        Term(
            f"{stage.code}_{activity.code}",
            f"{stage.ru} {activity.ru}",
            f"{stage.en} {activity.en}",
            {"stage": stage.code, "activity": activity.code},
        )
        for stage in STAGE.values()
        for activity in ACTIVITY.values()
    ),
    Term("lead", "Лид (без заказов)", "Lead (no orders)"),
    Term("no_purchase", "Без покупок (только возвраты)", "No purchase (returns only)"),
)

STRATEGY = _table(
    Term("onboarding", "вовлечение", "onboarding", {"segments": ("new_active",)}),
    Term(
        "retention",
        "удержание",
        "retention",
        {
            "segments": (
                "new_falling_asleep",
                "prospective_falling_asleep",
                "regular_falling_asleep",
            )
        },
    ),
    Term("reacquisition", "повторное привлечение", "re-acquisition", {"segments": ("new_asleep",)}),
    Term(
        "upsell",
        "допродажа и кросс-продажа",
        "upsell and cross-sell",
        {"segments": ("prospective_active",)},
    ),
    Term(
        "reactivation",
        "реактивация",
        "reactivation",
        {"segments": ("prospective_asleep", "regular_asleep")},
    ),
    Term(
        "loyalty",
        "лояльность: благодарность и допродажа",
        "loyalty: thank-you and upsell",
        {"segments": ("regular_active",)},
    ),
    Term("acquisition", "привлечение", "acquisition", {"segments": ("lead",)}),
    Term("survey", "опрос: почему вернули", "survey: why returned", {"segments": ("no_purchase",)}),
)

# one label per flag in every workbook (segments.xlsx, migration.xlsx) and console line
RED_FLAG = _table(
    Term("revenue_drop", "падение выручки", "revenue drop"),
    Term("overdue", "пропущен заказ", "overdue"),
    Term("lost_category", "ушла категория", "lost category"),
    Term("probably_left", "вероятно, ушёл", "probably left"),
)

# "noun": how a sentence names a task of the channel (effectiveness.xlsx titles);
# "sheet": the task sheet the channel's tasks go to; "group": the per-customer cap it counts
# under (one call, one electronic message); "match": the order in which "preferred
# channel" cells are matched (first match wins: messengers before "тел", e-mail before mail)
CHANNEL = _table(
    Term(
        "call",
        "Звонок",
        "Call",
        {
            "noun": {"ru": "Звонок", "en": "Call"},
            "sheet": "call_tasks",
            "group": "call",
            "consent": "do_not_call",
            "needs": "phone",
            "match": 1,
            "keywords": ("телефон", "звон", "phone", "call", "тел"),
        },
    ),
    Term(
        "email",
        "Email",
        "Email",
        {
            "noun": {"ru": "Письмо", "en": "Email"},
            "sheet": "mail_tasks",
            "group": "email",
            "consent": "do_not_email",
            "needs": "email",
            "match": 2,
            "keywords": (
                "email",
                "e-mail",
                "почта эл",
                "эл",
                "электрон",
                "mail@",
                "письмо на почту",
            ),
        },
    ),
    Term(
        "mail",
        "Почта",
        "Postal mail",
        {
            "noun": {"ru": "Почтовая рассылка", "en": "Postal mail"},
            "sheet": "mail_tasks",
            "group": "mail",
            "consent": "do_not_mail",
            "needs": "address",
            "match": 3,
            "keywords": ("почта", "post", "mail", "письмо"),
        },
    ),
    Term(
        "inmail",
        "InMail",
        "InMail",
        {
            "noun": {"ru": "Сообщение InMail", "en": "InMail message"},
            "sheet": "mail_tasks",
            "group": "email",
            "consent": "do_not_email",
            "needs": "inmail",
            "match": 0,
            "keywords": ("inmail", "linkedin", "соцсет", "telegram", "телеграм", "whatsapp"),
        },
    ),
    Term(
        "chatbot",
        "Чат-бот",
        "Chatbot",
        {
            "noun": {"ru": "Чат-бот", "en": "Chatbot"},
            "sheet": "mail_tasks",
            "group": "email",
            "consent": "do_not_email",
            "needs": "phone",  # a messenger bot on the phone number
            "match": 4,
            "keywords": ("бот", "чат", "bot", "chat"),
        },
    ),
    Term(
        "survey",
        "Опрос",
        "Survey",
        {
            "noun": {"ru": "Опрос", "en": "Survey"},
            "sheet": "call_tasks",
            "group": "call",
            "consent": "do_not_call",
            "needs": "phone",
        },
    ),
)

# "match": order of matching a job title / role cell; "unknown" is what matches nothing
CONTACT_ROLE = _table(
    Term(
        "purchaser",
        "Закупщик",
        "Purchaser",
        {"match": 0, "keywords": ("закуп", "снабж", "purchas", "procure", "buyer")},
    ),
    Term(
        "user",
        "Пользователь",
        "User",
        {
            "match": 2,
            "keywords": ("пользоват", "технич", "инженер", "user", "engineer", "выбира"),
        },
    ),
    Term(
        "decision_maker",
        "ЛПР",
        "Decision maker",
        {
            "match": 1,
            "keywords": ("лпр", "руковод", "директор", "decision", "dm", "owner", "владел"),
        },
    ),
    Term("unknown", "Не указана", "Unknown"),
)

TASK_STATUS = _table(
    Term("open", "открыта", "open"),
    Term("in_progress", "в работе", "in progress"),
    Term("done", "выполнена", "done"),
    Term("refused", "отказ", "refused"),
)

COMPANY_TYPE = _table(
    Term(
        "manufacturing",
        "Производство",
        "Manufacturing",
        {
            "match": 1,
            "keywords": ("производ", "завод", "промышл", "manufact", "industr", "production"),
        },
    ),
    Term(
        "trading",
        "Торговля",
        "Trading",
        {
            "match": 2,
            "keywords": (
                "торгов",
                "опт",
                "дистриб",
                "trad",
                "wholesale",
                "distrib",
                "дилер",
                "dealer",
            ),
        },
    ),
    Term(
        "shop",
        "Магазин",
        "Shop",
        {"match": 3, "keywords": ("магазин", "розниц", "shop", "retail", "store", "ип")},
    ),
    Term(
        "government",
        "Госучреждение",
        "Government",
        {
            "match": 0,
            "keywords": ("гос", "бюджет", "муницип", "учрежд", "government", "public", "state"),
        },
    ),
    Term("other", "Другое", "Other"),
)

SIZE_CLASS = _table(
    Term("micro", "микро", "micro"),
    Term("small", "малое", "small"),
    Term("medium", "среднее", "medium"),
    Term("large", "крупное", "large"),
)

SIZE_SOURCE = _table(
    Term("turnover", "оборот", "turnover"),
    Term("headcount", "численность", "headcount"),
    Term("revenue_12m", "выручка за 12 мес.", "12-month revenue"),
)

ACTIVITY_RULE = _table(
    Term("period", "по сроку без заказов", "months without orders"),
    Term("cadence", "по обычному интервалу", "own ordering cadence"),
)

# rejects.csv "reason" (the codes are segtool.errors.REJECT_*)
REJECT_REASON = _table(
    Term("missing_customer_id", "нет кода клиента", "no customer id"),
    Term("bad_date", "дата не читается", "unreadable date"),
    Term("missing_date", "нет даты", "no date"),
    Term("bad_amount", "сумма не читается", "unreadable amount"),
    Term("missing_amount", "нет суммы", "no amount"),
    Term("ragged_row", "неверное число полей", "wrong number of fields"),
    Term("duplicate", "повтор строки", "duplicate line"),
    Term("date_out_of_range", "дата вне допустимого диапазона", "date out of range"),
    Term("totals_row", "строка итогов", "totals line"),
    Term(
        "ambiguous_date",
        "дата противоречит порядку дня и месяца в файле",
        "date contradicts the file's day/month order",
    ),
    Term(
        "ambiguous_amount",
        "сумма неоднозначна (1.250 при десятичной запятой)",
        "ambiguous amount (1.250 in a decimal-comma file)",
    ),
    Term("other_currency", "другая валюта без курса", "another currency, no rate"),
    Term("bad_id", "код клиента в экспоненциальной записи", "id in scientific notation"),
    Term("group_header", "заголовок группы отчёта", "a grouped report's customer line"),
)

VOCABULARY: dict[str, dict[str, Term]] = {
    "stage": STAGE,
    "activity": ACTIVITY,
    "segment": SEGMENT,
    "strategy": STRATEGY,
    "red_flag": RED_FLAG,
    "channel": CHANNEL,
    "contact_role": CONTACT_ROLE,
    "task_status": TASK_STATUS,
    "company_type": COMPANY_TYPE,
    "size_class": SIZE_CLASS,
    "size_source": SIZE_SOURCE,
    "activity_rule": ACTIVITY_RULE,
    "reject_reason": REJECT_REASON,
}


def codes(kind: str) -> tuple[str, ...]:
    """The codes of one kind, in their order."""
    return tuple(VOCABULARY[kind])


def labels(kind: str, *, capitalize: bool = False) -> dict[str, dict[str, str]]:
    """``{code: {"ru": label, "en": label}}`` of one kind."""
    return {
        t.code: {
            lang: (text[:1].upper() + text[1:]) if capitalize else text
            for lang, text in (("ru", t.ru), ("en", t.en))
        }
        for t in VOCABULARY[kind].values()
    }


def labels_by_language(kind: str, *, capitalize: bool = False) -> dict[str, dict[str, str]]:
    """``{"ru": {code: label}, "en": {...}}`` of one kind (the workbooks' lookups)."""
    by_code = labels(kind, capitalize=capitalize)
    return {lang: {code: text[lang] for code, text in by_code.items()} for lang in LANGUAGES}


def keywords(kind: str) -> list[tuple[str, list[str]]]:
    """``[(code, [keywords...])]`` in matching order (first match wins)."""
    terms = [t for t in VOCABULARY[kind].values() if "keywords" in t.meta]
    terms.sort(key=lambda t: int(t.meta["match"]))
    return [(t.code, list(t.meta["keywords"])) for t in terms]


def channels_on(meta_key: str, value: str) -> tuple[str, ...]:
    """The channels whose ``meta[meta_key]`` is ``value`` (e.g. sheet = call_tasks)."""
    return tuple(t.code for t in CHANNEL.values() if t.meta.get(meta_key) == value)
