"""Sample CRM exports for segtool: ``orders.csv`` and ``contacts.xlsx`` from a fixed seed.

The whole timeline (customers, their orders up to a fixed horizon, order numbers) is drawn
from the seed first; ``end`` only cuts it. So ``--end 2026-10-31`` and ``--end 2026-11-30``
give the same history, the later one with one more month: the same customers, the same
order numbers, every row of the earlier file present in the later one. Monthly re-runs and
migration tests rely on that.

History starts ``years`` before the default end (2026-10-31), whatever ``end`` is, and the
timeline runs to :data:`HORIZON`; ``end`` may be any day in between.

Order lines are made with numpy and polars, never row by row, and written in chunks, so
``--lines 10000000`` takes a minute or two and a few GB of memory at most.

Usage::

    python sample_data/generate.py                      # the checked-in sample (~300 companies)
    python sample_data/generate.py --out /tmp/x --end 2026-11-30
    python sample_data/generate.py --out bench/data --lines 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

DEFAULT_END = dt.date(2026, 10, 31)
HORIZON = dt.date(2028, 10, 31)  # the timeline is drawn up to here; `end` cuts it
CHUNK_ORDERS = 1 << 18  # orders per written chunk (fixed: the chunk seeds depend on it)
ORDER_ID_START = 100_001
EXCEL_MAX_ROWS = 1_048_575  # rows below the header; more contacts go to contacts.csv

ORDERS_HEADER = [
    "Номер заказа",
    "Дата заказа",
    "ИНН",
    "Контрагент",
    "Категория",
    "Товар",
    "Количество",
    "Цена, руб.",
    "Сумма, руб.",
    "Себестоимость, руб.",
]
CONTACTS_HEADER = [
    "ИНН",
    "Компания",
    "ФИО",
    "Должность",
    "Телефон",
    "E-mail",
    "Адрес",
    "Профиль в соцсети",
    "Не звонить",
    "Не писать",
    "Тип компании",
    "Оборот, руб.",
    "Численность",
    "Регион",
    "Менеджер",
]
CONTACTS_SHEET = "Контакты"

# -- catalogue ---------------------------------------------------------------------------
# category, margin rate, log-quantity mean, log-quantity sd, max quantity (0 = none)
CATEGORIES = [
    ("Расходники", 0.42, 2.3, 0.9, 0),
    ("Запчасти", 0.30, 1.0, 0.8, 0),
    ("Инструмент", 0.26, 0.5, 0.7, 0),
    ("Оборудование", 0.20, 0.0, 0.4, 3),
    ("Станки", 0.16, 0.0, 0.0, 1),
    ("Сервис", 0.50, 0.0, 0.0, 1),
]
PRODUCTS = {  # at least 8 per category: lines of one order never repeat a product
    "Расходники": [
        ("Круг отрезной 125x1,2 мм", 58.0),
        ("Диск шлифовальный 180 мм", 145.0),
        ("Электроды МР-3 3 мм, 5 кг", 1290.0),
        ("Проволока сварочная 1,2 мм, 15 кг", 2350.0),
        ("СОЖ концентрат, 20 л", 6890.0),
        ("Масло индустриальное И-40А, 20 л", 4150.0),
        ("Ветошь обтирочная, 10 кг", 890.0),
        ("Перчатки х/б, пара", 38.5),
        ("Смазка Литол-24, 2 кг", 760.0),
        ("Шкурка шлифовальная P120, рулон", 1840.0),
    ],
    "Запчасти": [
        ("Подшипник 6205-2RS", 420.0),
        ("Подшипник 6310 ZZ", 1350.0),
        ("Ремень клиновой A-1250", 690.0),
        ("Манжета армированная 45x65", 210.0),
        ("Фильтр гидравлический HF-35", 3200.0),
        ("Муфта кулачковая МК-40", 5400.0),
        ("Датчик индуктивный ВБИ-М18", 2750.0),
        ("Щетки электродвигателя, комплект", 1150.0),
        ("Контактор КМИ-22510", 3980.0),
        ("Шарико-винтовая пара 25x5", 28900.0),
    ],
    "Инструмент": [
        ("Фреза концевая 10 мм", 1890.0),
        ("Сверло по металлу 8,5 мм", 240.0),
        ("Метчик М12x1,75", 560.0),
        ("Резец токарный проходной 25x16", 780.0),
        ("Штангенциркуль ШЦ-I 150 мм", 2450.0),
        ("Микрометр МК-25", 4890.0),
        ("Набор ключей 8-32 мм", 7600.0),
        ("Пластина твердосплавная CNMG 120408", 690.0),
        ("Дрель аккумуляторная 18 В", 14500.0),
        ("Шуруповерт ударный", 16900.0),
    ],
    "Оборудование": [
        ("Компрессор винтовой 11 кВт", 685000.0),
        ("Сварочный инвертор 315 А", 74500.0),
        ("Тельфер электрический 1 т", 92000.0),
        ("Пресс гидравлический 40 т", 385000.0),
        ("Вытяжка сварочная передвижная", 118000.0),
        ("Ленточнопильная машина", 246000.0),
        ("Генератор дизельный 30 кВт", 1150000.0),
        ("Точильно-шлифовальный станок", 38500.0),
    ],
    "Станки": [
        ("Станок токарный 16К20", 2950000.0),
        ("Станок фрезерный ВМ127М", 3650000.0),
        ("Станок сверлильный 2Н135", 890000.0),
        ("Станок координатно-расточной 2Е440", 6200000.0),
        ("Обрабатывающий центр ЧПУ 850", 7850000.0),
        ("Станок листогибочный 3 м", 2150000.0),
        ("Станок плазменной резки ЧПУ", 1890000.0),
        ("Станок шлифовальный 3Е711", 2480000.0),
    ],
    "Сервис": [
        ("Пусконаладка оборудования", 45000.0),
        ("Плановое ТО станка", 28000.0),
        ("Ремонт шпинделя", 96000.0),
        ("Выезд инженера", 8500.0),
        ("Капитальный ремонт станка", 340000.0),
        ("Обучение операторов ЧПУ", 62000.0),
        ("Диагностика электрики", 15000.0),
        ("Модернизация УЧПУ", 480000.0),
    ],
}

# category mix per purchase profile (rows), in CATEGORIES order
PROFILES = np.array(
    [
        [0.45, 0.30, 0.18, 0.03, 0.005, 0.035],  # 0 manufacturing
        [0.50, 0.25, 0.22, 0.03, 0.0, 0.0],  # 1 trading
        [0.60, 0.05, 0.35, 0.0, 0.0, 0.0],  # 2 shop
        [0.40, 0.20, 0.20, 0.05, 0.0, 0.15],  # 3 government
        [0.0, 0.0, 0.0, 0.45, 0.45, 0.10],  # 4 durable-goods buyer
        [0.65, 0.0, 0.0, 0.0, 0.0, 0.35],  # 5 plant on a service contract: no machines
    ]
)

# -- customers ---------------------------------------------------------------------------
# lifecycle kinds: name, share of customers, base orders per month (0 = fixed count)
KINDS = [
    ("one_off", 0.14, 0.0),
    ("occasional", 0.14, 0.0),
    ("regular", 0.22, 1.3),
    ("growing", 0.07, 1.1),
    ("shrinking", 0.07, 1.7),
    ("stopped_recent", 0.08, 1.0),  # last order 13-23 months before the default end
    ("stopped_long", 0.07, 0.9),  # last order more than 24 months before the default end
    ("cooling", 0.06, 1.0),  # last order 2-11 months before the default end
    ("durable", 0.07, 0.0),  # machines and equipment, years apart
    ("new", 0.06, 1.3),  # first order in the last 3 months
    ("cancelled", 0.02, 0.0),  # the only order cancelled in full: nets to zero
]
KIND = {name: i for i, (name, _, _) in enumerate(KINDS)}
FLAT, GROWING, SHRINKING = 0, 1, 2

TYPES = ["manufacturing", "trading", "shop", "government"]
TYPE_LABELS = ["Производство", "Торговля", "Магазин", "Госучреждение"]
TYPE_SHARES = [0.35, 0.25, 0.20, 0.20]
TURNOVER_MEDIAN = [350e6, 180e6, 25e6, 120e6]

ROOT_HEADS = [
    ("Урал", "ural"),
    ("Сиб", "sib"),
    ("Волга", "volga"),
    ("Кама", "kama"),
    ("Дон", "don"),
    ("Нева", "neva"),
    ("Енисей", "enisey"),
    ("Север", "sever"),
    ("Юг", "yug"),
    ("Центр", "centr"),
    ("Тех", "teh"),
    ("Пром", "prom"),
    ("Электро", "elektro"),
    ("Гидро", "gidro"),
    ("Метал", "metal"),
    ("Энерго", "energo"),
    ("Стан", "stan"),
    ("Строй", "stroy"),
    ("Агро", "agro"),
    ("Вектор", "vektor"),
    ("Альфа", "alfa"),
    ("Прогресс", "progress"),
    ("Рус", "rus"),
    ("Бал", "bal"),
    ("Ока", "oka"),
]
ROOT_TAILS = [
    ("маш", "mash"),
    ("пром", "prom"),
    ("снаб", "snab"),
    ("техника", "tehnika"),
    ("сталь", "stal"),
    ("деталь", "detal"),
    ("комплект", "komplekt"),
    ("ресурс", "resurs"),
    ("прибор", "pribor"),
    ("механика", "mehanika"),
    ("альянс", "alyans"),
    ("лит", "lit"),
    ("трейд", "treyd"),
    ("инвест", "invest"),
    ("монтаж", "montazh"),
    ("систем", "sistem"),
]
NAME_PATTERNS = {  # {R} = root; the first patterns name the type, the last ones do not
    "manufacturing": [
        "ООО «Завод {R}»",
        "АО «{R} машиностроительный завод»",
        "ООО «Производственная компания {R}»",
        "ООО «Фабрика {R}»",
        "ООО «Комбинат {R}»",
        "АО «{R}»",
        "ООО «{R}»",
        "ПАО «{R}»",
    ],
    "trading": [
        "ТД «{R}»",
        "ООО «Торговый дом {R}»",
        "ООО «Дистрибуция {R}»",
        "ООО «{R}-Опт»",
        "ООО «{R} Трейд»",
        "ООО «{R}»",
    ],
    "shop": ["ИП", "ИП", "ИП", "магазин «{R}»", "ООО «Магазин {R}»", "ООО «{R}»"],
    "government": [
        "ГБУ «Жилищник района {R}»",
        "МБУ «Благоустройство {C}»",
        "МУП «Водоканал {C}»",
        "ФГУП «{R}»",
        "ГБУЗ «Городская больница № {N}»",
        "МБОУ «Школа № {N}»",
        "ГУП «Горэлектросеть {C}»",
        "МКУ «Дорожное управление {C}»",
    ],
}
# region code (first two ИНН digits), region, city, phone area code
REGIONS = [
    ("77", "Москва", "Москва", "495"),
    ("78", "Санкт-Петербург", "Санкт-Петербург", "812"),
    ("50", "Московская обл.", "Подольск", "496"),
    ("66", "Свердловская обл.", "Екатеринбург", "343"),
    ("16", "Республика Татарстан", "Казань", "843"),
    ("02", "Республика Башкортостан", "Уфа", "347"),
    ("54", "Новосибирская обл.", "Новосибирск", "383"),
    ("63", "Самарская обл.", "Самара", "846"),
    ("52", "Нижегородская обл.", "Нижний Новгород", "831"),
    ("74", "Челябинская обл.", "Челябинск", "351"),
    ("59", "Пермский край", "Пермь", "342"),
    ("23", "Краснодарский край", "Краснодар", "861"),
    ("61", "Ростовская обл.", "Ростов-на-Дону", "863"),
    ("24", "Красноярский край", "Красноярск", "391"),
    ("03", "Республика Бурятия", "Улан-Удэ", "3012"),
    ("36", "Воронежская обл.", "Воронеж", "473"),
    ("72", "Тюменская обл.", "Тюмень", "345"),
    ("07", "Кабардино-Балкарская Респ.", "Нальчик", "8662"),
]
REGION_SHARES = np.array([14, 8, 7, 7, 7, 6, 5, 5, 5, 5, 4, 5, 4, 4, 3, 4, 4, 3], float)
STREETS = [
    "ул. Ленина",
    "ул. Промышленная",
    "ул. Заводская",
    "пр-т Мира",
    "ул. Советская",
    "ш. Энтузиастов",
    "ул. Гагарина",
    "ул. Индустриальная",
    "ул. Складская",
    "пр-т Победы",
]
MALE = [
    ("Иванов", "Ivanov"),
    ("Петров", "Petrov"),
    ("Смирнов", "Smirnov"),
    ("Кузнецов", "Kuznetsov"),
    ("Попов", "Popov"),
    ("Соколов", "Sokolov"),
    ("Лебедев", "Lebedev"),
    ("Козлов", "Kozlov"),
    ("Новиков", "Novikov"),
    ("Морозов", "Morozov"),
    ("Волков", "Volkov"),
    ("Алексеев", "Alekseev"),
    ("Семенов", "Semenov"),
    ("Егоров", "Egorov"),
    ("Павлов", "Pavlov"),
    ("Захаров", "Zaharov"),
    ("Сафин", "Safin"),
    ("Гарипов", "Garipov"),
    ("Ахметов", "Ahmetov"),
    ("Борисов", "Borisov"),
]
FIRST_M = [
    ("Александр", "А", "a"),
    ("Сергей", "С", "s"),
    ("Дмитрий", "Д", "d"),
    ("Андрей", "А", "a"),
    ("Алексей", "А", "a"),
    ("Игорь", "И", "i"),
    ("Олег", "О", "o"),
    ("Рустам", "Р", "r"),
    ("Михаил", "М", "m"),
    ("Владимир", "В", "v"),
    ("Николай", "Н", "n"),
    ("Павел", "П", "p"),
]
FIRST_F = [
    ("Елена", "Е", "e"),
    ("Ольга", "О", "o"),
    ("Наталья", "Н", "n"),
    ("Ирина", "И", "i"),
    ("Татьяна", "Т", "t"),
    ("Светлана", "С", "s"),
    ("Анна", "А", "a"),
    ("Гульнара", "Г", "g"),
    ("Марина", "М", "m"),
    ("Юлия", "Ю", "y"),
]
PATRONYMIC = [  # male, female, initial
    ("Иванович", "Ивановна", "И"),
    ("Петрович", "Петровна", "П"),
    ("Сергеевич", "Сергеевна", "С"),
    ("Александрович", "Александровна", "А"),
    ("Викторович", "Викторовна", "В"),
    ("Николаевич", "Николаевна", "Н"),
    ("Юрьевич", "Юрьевна", "Ю"),
    ("Ринатович", "Ринатовна", "Р"),
]
TITLES = [  # role, title, weight within the role
    ("purchaser", "Менеджер по закупкам", 0.6),
    ("purchaser", "Начальник отдела снабжения", 0.4),
    ("user", "Главный инженер", 0.4),
    ("user", "Технолог", 0.3),
    ("user", "Главный механик", 0.3),
    ("decision_maker", "Генеральный директор", 0.5),
    ("decision_maker", "Директор", 0.3),
    ("decision_maker", "Владелец", 0.2),
]
MANAGERS = [
    "Петрова А.С.",
    "Сидоров К.В.",
    "Фролова Е.Н.",
    "Гайнуллин Р.М.",
    "Орлов Д.А.",
    "Белова М.И.",
]


@dataclass
class Result:
    orders_path: Path
    contacts_path: Path
    rows: int  # data rows written to orders.csv (broken and duplicate rows included)
    customers: int  # distinct customers with at least one row
    contacts: int  # people in contacts.xlsx
    leads: int


# -- helpers -----------------------------------------------------------------------------
def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _pick(values: list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def _inn_digits(body: np.ndarray, width: int) -> np.ndarray:
    """Digits (n x width) of non-negative integers, most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (body[:, None] // powers) % 10


def _inn_check(digits: np.ndarray, weights: list[int]) -> np.ndarray:
    w = np.array(weights, dtype=np.int64)
    return (digits[:, : len(w)] * w).sum(axis=1) % 11 % 10


def make_inns(region: np.ndarray, body: np.ndarray, individual: np.ndarray) -> pl.Series:
    """Valid ИНН with check digits: 10 digits for companies, 12 for ИП.

    ``region`` is the 2-digit code, ``body`` unique integers below 10**7.
    """
    inn10 = region.astype(np.int64) * 10**7 + body  # 9 digits, then one check digit
    d10 = _inn_digits(inn10, 9)
    c10 = _inn_check(d10, [2, 4, 10, 3, 5, 9, 4, 6, 8])
    inn10 = inn10 * 10 + c10
    inn12 = (region.astype(np.int64) * 10**8 + 10**7 + body) * 10  # 10 digits + 2 checks
    d12 = _inn_digits(inn12 // 10, 10)
    c11 = _inn_check(d12, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
    d12 = np.concatenate([d12, c11[:, None]], axis=1)
    c12 = _inn_check(d12, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
    inn12 = (inn12 // 10 * 10 + c11) * 10 + c12
    s10 = pl.Series(inn10).cast(pl.String).str.zfill(10)
    s12 = pl.Series(inn12).cast(pl.String).str.zfill(12)
    return pl.select(pl.when(pl.Series(individual)).then(s12).otherwise(s10)).to_series()


def _group3(x: pl.Expr) -> pl.Expr:
    return (x % 1000).cast(pl.String).str.zfill(3)


def format_number(x: pl.Expr, decimals: bool = True) -> pl.Expr:
    """Integer kopecks (or whole units) as Russian text: ``-1 234 567,89``."""
    a = x.abs()
    whole = a // 100 if decimals else a
    text = (
        pl.when(whole < 1000)
        .then(whole.cast(pl.String))
        .when(whole < 1_000_000)
        .then(pl.concat_str([(whole // 1000).cast(pl.String), _group3(whole)], separator=" "))
        .when(whole < 1_000_000_000)
        .then(
            pl.concat_str(
                [(whole // 1_000_000).cast(pl.String), _group3(whole // 1000), _group3(whole)],
                separator=" ",
            )
        )
        .otherwise(
            pl.concat_str(
                [
                    (whole // 1_000_000_000).cast(pl.String),
                    _group3(whole // 1_000_000),
                    _group3(whole // 1000),
                    _group3(whole),
                ],
                separator=" ",
            )
        )
    )
    if decimals:
        text = pl.concat_str([text, (a % 100).cast(pl.String).str.zfill(2)], separator=",")
    return pl.when(x < 0).then(pl.concat_str([pl.lit("-"), text])).otherwise(text)


# -- the timeline --------------------------------------------------------------------------
def _start(years: int) -> dt.date:
    return dt.date(DEFAULT_END.year - years, DEFAULT_END.month, DEFAULT_END.day) + dt.timedelta(1)


@dataclass
class Customers:
    kind: np.ndarray
    t0: np.ndarray  # window of orders, days from the start
    t1: np.ndarray
    rate: np.ndarray  # orders per day (rate-driven kinds)
    shape: np.ndarray
    fixed: np.ndarray  # fixed order count, 0 = drawn from the rate
    ctype: np.ndarray
    size_mult: np.ndarray
    turnover: np.ndarray

    @property
    def n(self) -> int:
        return len(self.kind)


def _draw_customers(
    rng: np.random.Generator, n: int, d_end: int, d_hor: int, future: bool
) -> Customers:
    """Lifecycle kind and order window of each customer, in days from the start."""
    shares = np.array([s for _, s, _ in KINDS])
    if future:  # customers whose first order comes after the default end
        keep = [KIND[k] for k in ("one_off", "occasional", "regular", "new", "durable")]
        mask = np.zeros(len(KINDS), bool)
        mask[keep] = True
        shares = np.where(mask, shares, 0.0)
    kind = rng.choice(len(KINDS), size=n, p=shares / shares.sum())
    u1, u2 = rng.random(n), rng.random(n)
    base = np.array([r for _, _, r in KINDS])[kind] / 30.4
    rate = base * rng.lognormal(0.0, 0.7, n)
    shape = np.full(n, FLAT)
    fixed = np.zeros(n, np.int64)
    lo = d_end + 1 if future else 0
    first = lo + u1 * ((d_hor if future else d_end) - lo)  # default: anywhere
    t0 = first.copy()
    t1 = np.full(n, float(d_hor))

    def put(k: str, a: np.ndarray | float, b: np.ndarray | float) -> None:
        m = kind == KIND[k]
        t0[m] = np.broadcast_to(a, n)[m]
        t1[m] = np.broadcast_to(b, n)[m]

    if not future:
        put("regular", np.maximum(0, -365 + u1 * (d_end - 165)), d_hor)
        put("growing", u1 * (d_end - 400), d_hor)
        put("shrinking", np.maximum(0, -200 + u1 * 300), d_end + 30 + u2 * 170)
        put("stopped_recent", np.maximum(0, -365 + u1 * 400), d_end - 395 - u2 * 305)
        put("stopped_long", 0.0, 60 + u2 * 270)
        put("cooling", np.maximum(0, -365 + u1 * 600), d_end - 60 - u2 * 270)
        put("new", d_end - u1 * 90, d_hor)
    else:
        put("regular", first, d_hor)
        put("new", first, d_hor)
    put("one_off", first, first)
    put("cancelled", first, first)
    put("occasional", first, np.minimum(d_hor, first + 60 + u2 * 480))
    put("durable", np.maximum(0, first - 400 * u2), d_hor)
    shape[kind == KIND["growing"]] = GROWING
    shape[kind == KIND["shrinking"]] = SHRINKING
    fixed[kind == KIND["one_off"]] = 1
    fixed[kind == KIND["cancelled"]] = 1
    occ = kind == KIND["occasional"]
    fixed[occ] = rng.integers(2, 5, occ.sum())
    dur = kind == KIND["durable"]
    fixed[dur] = 1 + rng.poisson((t1[dur] - t0[dur]) / 900.0)

    ctype = rng.choice(4, size=n, p=TYPE_SHARES)
    ctype[dur & (rng.random(n) < 0.8)] = 0
    turnover = np.array(TURNOVER_MEDIAN)[ctype] * rng.lognormal(0.0, 1.3, n)
    size_mult = (turnover / 150e6) ** 0.25
    rate = rate * size_mult**0.5
    return Customers(kind, t0, t1, rate, shape, fixed, ctype, size_mult, turnover)


def _concat(a: Customers, b: Customers) -> Customers:
    return Customers(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in Customers.__dataclass_fields__)
    )


def _fraction_before(c: Customers, day: int) -> np.ndarray:
    """Expected share of each customer's orders dated on or before ``day``."""
    span = np.maximum(c.t1 - c.t0, 1.0)
    x = np.clip((day - c.t0) / span, 0.0, 1.0)
    return np.select([c.shape == GROWING, c.shape == SHRINKING], [x**2, 1 - (1 - x) ** 2], x)


def _orders(rng: np.random.Generator, c: Customers, scale: float, first_weekday: int):
    """Every order of the timeline, sorted by date: (day, customer, line count, product base).

    B2B orders come on working days: one drawn on a weekend moves to a day of that week.
    """
    span = c.t1 - c.t0
    n = np.where(
        c.fixed > 0, c.fixed, np.maximum(1, rng.poisson(np.maximum(scale * c.rate * span, 0.0)))
    )
    cust = np.repeat(np.arange(c.n, dtype=np.int64), n)
    u = rng.random(len(cust))
    shape = c.shape[cust]
    g = np.select([shape == GROWING, shape == SHRINKING], [np.sqrt(u), 1 - np.sqrt(1 - u)], u)
    day = np.floor(c.t0[cust] + span[cust] * g).astype(np.int64)
    weekday = (first_weekday + day) % 7
    workday = rng.integers(0, 5, len(cust))
    day = np.where(weekday >= 5, day - weekday + workday, day)
    day = np.where(day < 0, day + 7, day)  # the week before the history starts: a week on
    durable = c.kind[cust] == KIND["durable"]
    lines = np.where(
        durable, 1 + rng.binomial(1, 0.3, len(cust)), 1 + np.minimum(rng.poisson(1.8, len(cust)), 7)
    )
    cancelled = c.kind[cust] == KIND["cancelled"]
    lines[cancelled] = rng.integers(1, 4, cancelled.sum())
    base = rng.integers(0, 64, len(cust))
    order = np.lexsort((np.arange(len(cust)), cust, day))
    return day[order], cust[order], lines[order], base[order]


@dataclass
class Company:
    inn: pl.Series
    name: pl.Series
    region: np.ndarray  # index into REGIONS
    individual: np.ndarray
    slug: pl.Series  # latin, for e-mail domains


def _companies(rng: np.random.Generator, ctype: np.ndarray) -> Company:
    n = len(ctype)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARES / REGION_SHARES.sum())
    body = rng.choice(10**7, size=n, replace=False)
    head = rng.integers(0, len(ROOT_HEADS), n)
    tail = rng.integers(0, len(ROOT_TAILS), n)
    patterns: list[str] = []
    pidx = np.zeros(n, np.int64)
    for i, t in enumerate(TYPES):
        m = ctype == i
        pidx[m] = len(patterns) + rng.integers(0, len(NAME_PATTERNS[t]), m.sum())
        patterns += NAME_PATTERNS[t]
    sur = rng.integers(0, len(MALE), n)
    first = rng.integers(0, len(FIRST_M), n)
    patr = rng.integers(0, len(PATRONYMIC), n)
    straight = rng.random(n) < 0.06
    df = pl.DataFrame(
        {
            "p": _pick(patterns, pidx),
            "root": _pick([h for h, _ in ROOT_HEADS], head)
            + _pick([t for t, _ in ROOT_TAILS], tail),
            "slug": _pick([h for _, h in ROOT_HEADS], head)
            + _pick([t for _, t in ROOT_TAILS], tail),
            "city": _pick([r[2] for r in REGIONS], region),
            "num": pl.Series(rng.integers(1, 120, n)).cast(pl.String),
            "sur": _pick([s for s, _ in MALE], sur),
            "i": _pick([i for _, i, _ in FIRST_M], first),
            "o": _pick([i for _, _, i in PATRONYMIC], patr),
            "straight": straight,
        }
    )
    name = (
        pl.when(pl.col("p") == "ИП")
        .then(
            pl.concat_str([pl.lit("ИП "), "sur", pl.lit(" "), "i", pl.lit("."), "o", pl.lit(".")])
        )
        .otherwise(
            pl.col("p")
            .str.replace("{R}", pl.col("root"), literal=True)
            .str.replace("{C}", pl.col("city"), literal=True)
            .str.replace("{N}", pl.col("num"), literal=True)
        )
    )
    # some CRMs write straight quotes: ООО "Вектор" (the CSV then quotes the field)
    name = pl.when("straight").then(name.str.replace_all("[«»]", '"')).otherwise(name)
    out = df.select(
        name.alias("name"), pl.col("slug").str.to_lowercase(), (pl.col("p") == "ИП").alias("ip")
    )
    individual = out["ip"].to_numpy()
    codes = np.array([int(r[0]) for r in REGIONS])[region]
    inn = make_inns(codes, body, individual)
    return Company(inn, out["name"], region, individual, out["slug"])


# -- order lines ----------------------------------------------------------------------------
@dataclass
class Catalogue:
    category: np.ndarray  # per product
    name: list[str]
    price: np.ndarray  # kopecks
    start: np.ndarray  # per category: first product index
    count: np.ndarray


def _catalogue() -> Catalogue:
    names, cats, prices, start, count = [], [], [], [], []
    for i, (cat, *_rest) in enumerate(CATEGORIES):
        start.append(len(names))
        count.append(len(PRODUCTS[cat]))
        for product, price in PRODUCTS[cat]:
            names.append(product)
            cats.append(i)
            prices.append(round(price * 100))
    return Catalogue(
        np.array(cats), names, np.array(prices, np.int64), np.array(start), np.array(count)
    )


def _lines(
    rng: np.random.Generator,
    cat: Catalogue,
    c: Customers,
    profile: np.ndarray,
    discount: np.ndarray,
    margin_shift: np.ndarray,
    first_id: int,
    day: np.ndarray,
    cust: np.ndarray,
    nlines: np.ndarray,
    base: np.ndarray,
) -> dict[str, np.ndarray]:
    """The lines of a run of orders (plus returns), as integer columns."""
    n_orders = len(day)
    total = int(nlines.sum())
    order = np.repeat(np.arange(n_orders), nlines)
    k = np.arange(total) - np.repeat(np.cumsum(nlines) - nlines, nlines)
    lc = cust[order]
    ld = day[order]
    cum = np.cumsum(PROFILES, axis=1)[profile[lc]]
    category = np.minimum((rng.random(total)[:, None] >= cum).sum(axis=1), len(CATEGORIES) - 1)
    product = cat.start[category] + (base[order] + k) % cat.count[category]
    mu = np.array([m for _, _, m, _, _ in CATEGORIES])[category]
    sd = np.array([s for _, _, _, s, _ in CATEGORIES])[category]
    cap = np.array([q for _, _, _, _, q in CATEGORIES])[category]
    qty = np.rint(np.exp(mu + np.log(c.size_mult[lc]) * (mu > 0) + sd * rng.standard_normal(total)))
    qty = np.maximum(1, qty).astype(np.int64)
    qty = np.where(cap > 0, np.minimum(qty, cap), qty)
    price = np.rint(cat.price[product] * 1.02 ** (ld // 91) * (1 - discount[lc])).astype(np.int64)
    amount = price * qty
    rate = np.array([m for _, m, _, _, _ in CATEGORIES])[category] + margin_shift[lc]
    rate = np.clip(rate + 0.02 * rng.standard_normal(total), 0.02, 0.8)
    cost = np.rint(amount * (1 - rate)).astype(np.int64)
    oid = first_id + order
    suffix = np.zeros(total, np.int64)

    # returns: a few lines come back, in a return order "<id>-В" or as a negative line
    # of the same order; the single order of a `cancelled` customer is reversed in full
    cancelled = c.kind[lc] == KIND["cancelled"]
    ret = (rng.random(total) < 0.006) & ~cancelled
    own = rng.random(total) < 0.3
    back = 1 + np.floor(rng.random(total) * qty).astype(np.int64)
    later = rng.integers(3, 31, total)
    back = np.where(cancelled, qty, back)
    sel = ret | cancelled
    same = (own | cancelled)[sel]
    rq = back[sel]
    unit_cost = cost[sel] / qty[sel]
    ret_cols = {
        "oid": oid[sel],
        "suffix": np.where(same, 0, 1),
        "day": np.where(same, ld[sel], ld[sel] + later[sel]),
        "cust": lc[sel],
        "product": product[sel],
        "category": category[sel],
        "qty": -rq,
        "price": price[sel],
        "amount": -price[sel] * rq,
        "cost": -np.rint(unit_cost * rq).astype(np.int64),
        "seq": k[sel] + 100,
    }
    cols = {
        "oid": oid,
        "suffix": suffix,
        "day": ld,
        "cust": lc,
        "product": product,
        "category": category,
        "qty": qty,
        "price": price,
        "amount": amount,
        "cost": cost,
        "seq": k,
    }
    return {key: np.concatenate([cols[key], ret_cols[key]]) for key in cols}


def _format(lines: pl.DataFrame, start: dt.date, company: Company, cat: Catalogue) -> pl.DataFrame:
    cats = pl.Series([c for c, *_ in CATEGORIES], dtype=pl.String)
    products = pl.Series(cat.name, dtype=pl.String)
    return lines.select(
        pl.concat_str(
            [
                pl.col("oid").cast(pl.String),
                pl.when(pl.col("suffix") == 1).then(pl.lit("-В")).otherwise(pl.lit("")),
            ]
        ).alias(ORDERS_HEADER[0]),
        (pl.lit(start) + pl.duration(days=pl.col("day")))
        .dt.strftime("%d.%m.%Y")
        .alias(ORDERS_HEADER[1]),
        company.inn.gather(lines["cust"]).alias(ORDERS_HEADER[2]),
        company.name.gather(lines["cust"]).alias(ORDERS_HEADER[3]),
        cats.gather(lines["category"]).alias(ORDERS_HEADER[4]),
        products.gather(lines["product"]).alias(ORDERS_HEADER[5]),
        format_number(pl.col("qty"), decimals=False).alias(ORDERS_HEADER[6]),
        format_number(pl.col("price")).alias(ORDERS_HEADER[7]),
        format_number(pl.col("amount")).alias(ORDERS_HEADER[8]),
        format_number(pl.col("cost")).alias(ORDERS_HEADER[9]),
    )


def _break_rows(
    rng: np.random.Generator, df: pl.DataFrame, day: np.ndarray
) -> tuple[pl.DataFrame, np.ndarray]:
    """A handful of rows a real export has: no ИНН, an impossible date, "н/д", duplicates.

    Returns the frame and, for each of its rows, the row of ``df`` it came from.
    """
    n = df.height
    # rows of the first year only, so every snapshot past it has them all
    eligible = np.flatnonzero(day <= min(365, int(day.max())))
    if len(eligible) < 40:
        return df, np.arange(n)
    pos = rng.choice(eligible, size=12, replace=False)
    no_inn, bad_date, na_amount, dups = pos[:3], pos[3:5], pos[5:8], pos[8:12]
    idx = pl.Series(np.arange(n))
    df = df.with_columns(
        pl.when(idx.is_in(no_inn)).then(pl.lit("")).otherwise(pl.col("ИНН")).alias("ИНН"),
        pl.when(idx.is_in(bad_date))
        .then(pl.lit("31.02.2024"))
        .otherwise(pl.col("Дата заказа"))
        .alias("Дата заказа"),
        pl.when(idx.is_in(na_amount))
        .then(pl.lit("н/д"))
        .otherwise(pl.col("Сумма, руб."))
        .alias("Сумма, руб."),
    )
    rows = np.sort(np.concatenate([np.arange(n), dups]))
    return df[rows], rows


# -- contacts --------------------------------------------------------------------------------
def _contacts(
    rng: np.random.Generator,
    ids: np.ndarray,
    company: Company,
    c_type: np.ndarray,
    turnover: np.ndarray,
) -> pl.DataFrame:
    """One row per person: 1-4 people per company in the roles of purchase decisions."""
    m = len(ids)
    people = 1 + rng.binomial(3, 0.4, m)
    pos = np.repeat(np.arange(m), people)  # company position in ids, per person
    comp = ids[pos]
    n = len(comp)
    first_person = np.repeat(np.cumsum(people) - people, people) == np.arange(n)
    # the first person is mostly the purchaser; the others any role
    role = np.where(first_person, rng.choice(3, n, p=[0.65, 0.15, 0.2]), rng.choice(3, n))
    title_idx = np.zeros(n, np.int64)
    for r, name in enumerate(["purchaser", "user", "decision_maker"]):
        options = [i for i, t in enumerate(TITLES) if t[0] == name]
        w = np.array([TITLES[i][2] for i in options])
        mask = role == r
        title_idx[mask] = np.array(options)[rng.choice(len(options), mask.sum(), p=w / w.sum())]
    titles = [t for _, t, _ in TITLES] + ["Бухгалтер"]
    title_idx[rng.random(n) < 0.03] = len(TITLES)  # a few titles no role keyword matches
    female = rng.random(n) < 0.4
    sur = rng.integers(0, len(MALE), n)
    fm = rng.integers(0, len(FIRST_M), n)
    ff = rng.integers(0, len(FIRST_F), n)
    pa = rng.integers(0, len(PATRONYMIC), n)
    reg = company.region[comp]
    digits = rng.integers(0, 10**7, n)
    heads = turnover[comp] / rng.uniform(4e6, 12e6, m)[pos]

    def person(female_values: list[str], male_values: list[str], f_idx, m_idx) -> pl.Series:
        return pl.select(
            pl.when(pl.Series(female))
            .then(_pick(female_values, f_idx))
            .otherwise(_pick(male_values, m_idx))
        ).to_series()

    raw = pl.DataFrame(
        {
            "inn": company.inn.gather(comp),
            "company": company.name.gather(comp),
            "sur": person([s + "а" for s, _ in MALE], [s for s, _ in MALE], sur, sur),
            "first": person([x for x, _, _ in FIRST_F], [x for x, _, _ in FIRST_M], ff, fm),
            "patr": person([x for _, x, _ in PATRONYMIC], [x for x, _, _ in PATRONYMIC], pa, pa),
            "lat_sur": person(
                [t.lower() + "a" for _, t in MALE], [t.lower() for _, t in MALE], sur, sur
            ),
            "lat_first": person([x for _, _, x in FIRST_F], [x for _, _, x in FIRST_M], ff, fm),
            "title": _pick(titles, title_idx),
            "mobile": rng.random(n) < 0.6,
            "code": rng.integers(900, 1000, n),
            "area": _pick([r[3] for r in REGIONS], reg),
            "d3": digits // 10**4,
            "d2a": digits // 100 % 100,
            "d2b": digits % 100,
            "slug": company.slug.gather(comp),
            "generic": rng.random(n) < 0.25,
            "box": _pick(["zakupki", "snab", "info", "office"], rng.integers(0, 4, n)),
            "zip": rng.integers(100, 700, n) * 1000 + rng.integers(0, 1000, n),
            "city": _pick([r[2] for r in REGIONS], reg),
            "street": _pick(STREETS, rng.integers(0, len(STREETS), n)),
            "house": rng.integers(1, 150, n),
            "net": _pick(["vk.com/", "t.me/", "linkedin.com/in/"], rng.integers(0, 3, n)),
            "net_n": rng.integers(1, 99, n),
            "type": _pick(TYPE_LABELS, c_type[comp]),
            "turnover": np.rint(turnover[comp] / 1000) * 1000,
            "heads": np.maximum(1, np.rint(heads)).astype(np.int64),
            "region": _pick([r[1] for r in REGIONS], reg),
            "manager": _pick(MANAGERS, ids_manager(comp)),
            # blanks: company-level ones are the same on every row of the company
            "no_phone": rng.random(n) < 0.15,
            "no_email": rng.random(n) < 0.2,
            "no_address": rng.random(n) < 0.25,
            "no_profile": rng.random(n) < 0.7,
            "dnc": rng.random(n) < 0.06,
            "dne": rng.random(n) < 0.08,
            "type_known": (rng.random(m) < 0.7)[pos],
            "money_known": (rng.random(m) < 0.85)[pos],
            "heads_known": (rng.random(m) < 0.8)[pos],
        }
    )
    s = pl.col

    def z(col: str, width: int) -> pl.Expr:
        return s(col).cast(pl.String).str.zfill(width)

    phone = (
        pl.when("mobile")
        .then(
            pl.concat_str(
                [
                    pl.lit("+7 ("),
                    s("code").cast(pl.String),
                    pl.lit(") "),
                    z("d3", 3),
                    pl.lit("-"),
                    z("d2a", 2),
                    pl.lit("-"),
                    z("d2b", 2),
                ]
            )
        )
        .otherwise(
            pl.concat_str(
                [
                    pl.lit("8 ("),
                    "area",
                    pl.lit(") "),
                    (s("d3") % 1000).cast(pl.String).str.zfill(3),
                    pl.lit("-"),
                    z("d2a", 2),
                    pl.lit("-"),
                    z("d2b", 2),
                ]
            )
        )
    )
    email = pl.concat_str(
        [
            pl.when("generic")
            .then(s("box"))
            .otherwise(pl.concat_str(["lat_first", pl.lit("."), "lat_sur"])),
            pl.lit("@"),
            "slug",
            pl.lit(".ru"),
        ]
    )
    address = pl.concat_str(
        [
            s("zip").cast(pl.String),
            pl.lit(", г. "),
            "city",
            pl.lit(", "),
            "street",
            pl.lit(", д. "),
            s("house").cast(pl.String),
        ]
    )
    profile = pl.concat_str(["net", "lat_first", "lat_sur", s("net_n").cast(pl.String)])
    yes = pl.lit("да")
    return raw.select(
        s("inn").alias("ИНН"),
        s("company").alias("Компания"),
        pl.concat_str(["sur", "first", "patr"], separator=" ").alias("ФИО"),
        s("title").alias("Должность"),
        pl.when("no_phone").then(None).otherwise(phone).alias("Телефон"),
        pl.when("no_email").then(None).otherwise(email).alias("E-mail"),
        pl.when("no_address").then(None).otherwise(address).alias("Адрес"),
        pl.when("no_profile").then(None).otherwise(profile).alias("Профиль в соцсети"),
        pl.when("dnc").then(yes).otherwise(None).alias("Не звонить"),
        pl.when("dne").then(yes).otherwise(None).alias("Не писать"),
        pl.when("type_known").then(s("type")).otherwise(None).alias("Тип компании"),
        pl.when("money_known").then(s("turnover")).otherwise(None).alias("Оборот, руб."),
        pl.when("heads_known").then(s("heads")).otherwise(None).alias("Численность"),
        s("region").alias("Регион"),
        s("manager").alias("Менеджер"),
    )


def ids_manager(comp: np.ndarray) -> np.ndarray:
    """Account manager per company: stable, spread evenly (Knuth's multiplicative hash)."""
    return (
        comp.astype(np.uint64) * np.uint64(2654435761) % np.uint64(2**32) % np.uint64(len(MANAGERS))
    ).astype(np.int64)


def write_contacts(frame: pl.DataFrame, path: Path) -> None:
    """contacts.xlsx with xlsxwriter: text ИНН, numbers as numbers, blanks left empty."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": dt.datetime(2026, 1, 1), "author": "CRM"})
    sheet = workbook.add_worksheet(CONTACTS_SHEET)
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "# ##0"})
    widths = [14, 36, 32, 28, 20, 30, 48, 28, 11, 11, 16, 16, 12, 26, 16]
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width, money if CONTACTS_HEADER[col] == "Оборот, руб." else None)
    sheet.write_row(0, 0, CONTACTS_HEADER, bold)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(frame.height, 1), len(CONTACTS_HEADER) - 1)
    text_cols = [i for i, dtype in enumerate(frame.dtypes) if dtype == pl.String]
    for r, row in enumerate(frame.iter_rows(), start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if col in text_cols:
                sheet.write_string(r, col, value)
            else:
                sheet.write_number(r, col, value)
    workbook.close()


# -- the whole job ---------------------------------------------------------------------------
def generate(
    out_dir: str | Path,
    *,
    companies: int | None = None,
    lines: int | None = None,
    end: dt.date = DEFAULT_END,
    years: int = 3,
    seed: int = 42,
    leads: int = 20,
    broken: bool = True,
    contacts_format: str = "auto",
) -> Result:
    """Write ``orders.csv`` and ``contacts.xlsx`` into ``out_dir``.

    ``contacts.csv`` (``;``, BOM) instead of the workbook when there are more people than
    an Excel sheet holds (from about 40M order lines), or when ``contacts_format`` is
    ``"csv"``.

    Args:
        companies: customers with orders by the default end; default 300, or ``lines // 40``
            when ``lines`` is given.
        lines: approximate order lines up to the default end; default: what 300 companies
            buy (about 80 lines each).
        end: last order date written (the cut of the timeline).
        years: history before the default end.
        leads: companies in the contacts with no orders.
        broken: add a handful of broken rows (no ИНН, 31.02.2024, "н/д", duplicates).
    """
    start = _start(years)
    if not start <= end <= HORIZON:
        raise ValueError(f"end must be between {start} and {HORIZON}, got {end}")
    if companies is None:
        companies = 300 if lines is None else max(50, lines // 40)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d_end = (DEFAULT_END - start).days
    d_hor = (HORIZON - start).days
    cut = (end - start).days

    rng = _rng(seed, 1)
    main = _draw_customers(rng, companies, d_end, d_hor, future=False)
    n_future = round(companies * 0.012 * (d_hor - d_end) / 30.4)
    cust = _concat(main, _draw_customers(_rng(seed, 2), n_future, d_end, d_hor, future=True))
    scale = 1.0
    if lines is not None:  # scale the order rates so the lines up to the default end match
        before = _fraction_before(cust, d_end)
        fixed_orders = np.where(cust.fixed > 0, cust.fixed * before, 0.0).sum()
        rate_orders = np.where(cust.fixed > 0, 0.0, cust.rate * (cust.t1 - cust.t0) * before).sum()
        scale = max(0.02, (lines / 2.75 - fixed_orders) / max(rate_orders, 1.0))
    day, who, nlines, base = _orders(_rng(seed, 3), cust, scale, start.weekday())

    crng = _rng(seed, 4)
    lead_type = crng.choice(4, leads, p=TYPE_SHARES)
    ctype = np.concatenate([cust.ctype, lead_type])
    turnover = np.concatenate(
        [cust.turnover, np.array(TURNOVER_MEDIAN)[lead_type] * crng.lognormal(0.0, 1.3, leads)]
    )
    company = _companies(crng, ctype)
    profile = np.where(cust.kind == KIND["durable"], 4, cust.ctype)
    # a third of the plants buy consumables and service only (their machines are under a
    # service contract): big, frequent and high-margin buyers
    contract = (cust.ctype == 0) & (_rng(seed, 9).random(cust.n) < 1 / 3)
    profile = np.where((profile == 0) & contract, 5, profile)
    discount = np.round(crng.uniform(0, 0.12, cust.n), 2)
    margin_shift = crng.normal(0, 0.03, cust.n)
    cat = _catalogue()

    orders_path = out / "orders.csv"
    tmp = orders_path.with_suffix(".csv.part")
    seen = np.zeros(cust.n, bool)
    rows = 0
    with open(tmp, "wb") as fh:
        fh.write(("\ufeff" + ";".join(ORDERS_HEADER) + "\r\n").encode("utf-8"))
        for j, a in enumerate(range(0, len(day), CHUNK_ORDERS)):
            if day[a] > cut:
                break
            b = min(a + CHUNK_ORDERS, len(day))
            lrng = _rng(seed, 100, j)
            cols = _lines(
                lrng,
                cat,
                cust,
                profile,
                discount,
                margin_shift,
                ORDER_ID_START + a,
                day[a:b],
                who[a:b],
                nlines[a:b],
                base[a:b],
            )
            frame = pl.DataFrame(cols).sort(["day", "oid", "suffix", "seq"])
            text = _format(frame, start, company, cat)
            keep = frame["day"].to_numpy() <= cut
            seen[frame["cust"].to_numpy()[keep]] = True
            if j == 0 and broken:
                text, source = _break_rows(_rng(seed, 200), text, frame["day"].to_numpy())
                keep = keep[source]
            text = text.filter(pl.Series(keep))
            text.write_csv(fh, include_header=False, separator=";", line_terminator="\r\n")
            rows += text.height
    tmp.replace(orders_path)

    ids = np.concatenate([np.flatnonzero(seen), np.arange(cust.n, cust.n + leads)])
    contacts = _contacts(_rng(seed, 6), ids, company, ctype, turnover)
    as_csv = contacts_format == "csv" or contacts.height > EXCEL_MAX_ROWS
    if not as_csv:
        contacts_path = out / "contacts.xlsx"
        write_contacts(contacts, contacts_path)
    else:  # more people than a sheet holds: the CRM exports CSV, like the orders
        contacts_path = out / "contacts.csv"
        with open(contacts_path, "wb") as fh:
            fh.write("\ufeff".encode())
            contacts.write_csv(fh, separator=";", line_terminator="\r\n")
    return Result(orders_path, contacts_path, rows, int(seen.sum()), contacts.height, leads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--out", type=Path, default=here, help="folder to write into")
    parser.add_argument("--companies", type=int, default=None)
    parser.add_argument("--lines", type=int, default=None, help="approximate order lines")
    parser.add_argument(
        "--end",
        type=dt.date.fromisoformat,
        default=DEFAULT_END,
        help="last order date, YYYY-MM-DD (default %(default)s)",
    )
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--leads", type=int, default=20)
    parser.add_argument("--no-broken", action="store_true", help="leave out the broken rows")
    args = parser.parse_args(argv)
    try:
        result = generate(
            args.out,
            companies=args.companies,
            lines=args.lines,
            end=args.end,
            years=args.years,
            seed=args.seed,
            leads=args.leads,
            broken=not args.no_broken,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    err = sys.stderr
    print(f"{result.orders_path}: {result.rows} rows, {result.customers} customers", file=err)
    print(f"{result.contacts_path}: {result.contacts} people ({result.leads} leads)", file=err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
