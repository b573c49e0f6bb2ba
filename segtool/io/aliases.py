"""Header aliases: how the columns of common RU/EN CRM and ERP exports map to canonical keys.

Matching ignores case, ё/е, spaces, punctuation and a trailing currency unit, so
«Сумма, руб.», «СУММА (RUB)» and «Amount (USD)» all normalise to a known alias.
The config's ``inputs.columns`` overrides win over every alias.
"""

from __future__ import annotations

import re
import unicodedata

_CURRENCY_TAIL = re.compile(
    r"[\s,;:]*[\(\[]?\s*(руб(лей|ля|ль)?|р|rub|rur|usd|eur|gbp|тыс\.?\s*руб|₽|\$|€|£)\.?\s*[\)\]]?\s*$",
    re.IGNORECASE,
)
_NON_ALNUM = re.compile(r"[^0-9a-zа-я№#]+")


def normalize_header(name: str | None) -> str:
    """Canonical spelling of a header for alias lookup."""
    if name is None:
        return ""
    text = str(name).replace("№", " номер ").replace("#", " номер ")  # before NFKC: № → No
    text = unicodedata.normalize("NFKC", text).strip().lower().replace("ё", "е")
    text = text.lstrip("\ufeff")
    previous = None
    while previous != text:  # "Сумма, руб. (с НДС)" style tails may repeat
        previous = text
        text = _CURRENCY_TAIL.sub("", text)
    return _NON_ALNUM.sub("", text)


# Canonical key -> aliases, best first. "Strong" aliases are unambiguous; "weak" ones
# (a name column that may hold the id) are used for customer_id only when no strong one exists.
ORDER_ALIASES: dict[str, list[str]] = {
    "customer_id": [
        "customer_id",
        "ИНН",
        "ИНН покупателя",
        "ИНН контрагента",
        "ИНН клиента",
        "ИНН организации",
        "Код клиента",
        "Код контрагента",
        "Код покупателя",
        "ID клиента",
        "Клиент ID",
        "ID контрагента",
        "Customer ID",
        "CustomerID",
        "Client ID",
        "Account ID",
        "Account Number",
        "Customer Code",
        "Customer No",
        "Customer Number",
        "Store Number",
        "Tax ID",
        "INN",
        "VAT ID",
    ],
    "company_name": [
        "company_name",
        "Наименование клиента",
        "Наименование контрагента",
        "Наименование покупателя",
        "Название компании",
        "Название клиента",
        "Компания",
        "Организация",
        "Company",
        "Company Name",
        "Customer Name",
        "Client Name",
        "Account Name",
        "Store Name",
    ],
    "order_id": [
        "order_id",
        "Номер заказа",
        "Заказ",
        "Номер документа",
        "Документ",
        "Номер накладной",
        "Накладная",
        "Номер счета",
        "Счет",
        "Номер реализации",
        "Реализация",
        "Номер сделки",
        "Сделка",
        "Order ID",
        "OrderID",
        "Order",
        "Order No",
        "Order Number",
        "Invoice",
        "Invoice No",
        "InvoiceNo",
        "Invoice Number",
        "Invoice ID",
        "Document",
        "Document No",
        "Deal ID",
        "Transaction ID",
    ],
    "order_date": [
        "order_date",
        "Дата",
        "Дата заказа",
        "Дата документа",
        "Дата накладной",
        "Дата продажи",
        "Дата отгрузки",
        "Дата реализации",
        "Дата счета",
        "Дата сделки",
        "Date",
        "Order Date",
        "Invoice Date",
        "InvoiceDate",
        "Sale Date",
        "Sales Date",
        "Transaction Date",
        "Created",
        "Created At",
        "Document Date",
    ],
    "amount": [
        "amount",
        "Сумма",
        "Сумма заказа",
        "Сумма продажи",
        "Сумма с НДС",
        "Сумма документа",
        "Сумма по строке",
        "Сумма реализации",
        "Стоимость",
        "Выручка",
        "Итого",
        "Всего",
        "Amount",
        "Total",
        "Line Total",
        "Revenue",
        "Sales",
        "Sale Amount",
        "Net Amount",
        "Total Amount",
        "Value",
        "Sum",
        "Sale Dollars",
    ],
    "quantity": [
        "quantity",
        "Количество",
        "Кол-во",
        "Колво",
        "Кол",
        "Qty",
        "Quantity",
        "Units",
        "Bottles Sold",
    ],
    "unit_price": [
        "unit_price",
        "Цена",
        "Цена за единицу",
        "Цена за ед",
        "Цена с НДС",
        "Price",
        "Unit Price",
        "UnitPrice",
        "Price Each",
    ],
    "category": [
        "category",
        "Категория",
        "Категория товара",
        "Группа товаров",
        "Товарная группа",
        "Группа номенклатуры",
        "Вид номенклатуры",
        "Направление",
        "Category",
        "Product Category",
        "Product Group",
        "Category Name",
    ],
    "product": [
        "product",
        "Товар",
        "Номенклатура",
        "Наименование товара",
        "Продукт",
        "Наименование",
        "Product",
        "Item",
        "Description",
        "Product Name",
        "Item Description",
        "Артикул",
        "SKU",
        "StockCode",
    ],
    "margin": [
        "margin",
        "Маржа",
        "Валовая прибыль",
        "Прибыль",
        "Маржинальный доход",
        "Margin",
        "Gross Profit",
        "Gross Margin",
        "Profit",
    ],
    "cost": [
        "cost",
        "Себестоимость",
        "Себестоимость продажи",
        "Закупочная стоимость",
        "Cost",
        "COGS",
        "Cost of Goods",
        "Cost of Sales",
    ],
}
ORDER_WEAK_CUSTOMER = [
    "Клиент",
    "Контрагент",
    "Покупатель",
    "Customer",
    "Client",
    "Account",
    "Store",
    "Магазин",
]

CONTACT_ALIASES: dict[str, list[str]] = {
    "customer_id": [
        "customer_id",
        "ИНН",
        "ИНН компании",
        "ИНН клиента",
        "ИНН контрагента",
        "ИНН организации",
        "Код клиента",
        "Код контрагента",
        "ID клиента",
        "ID компании",
        "Customer ID",
        "CustomerID",
        "Client ID",
        "Account ID",
        "Company ID",
        "INN",
        "Tax ID",
    ],
    "company_name": [
        "company_name",
        "Компания",
        "Организация",
        "Название компании",
        "Наименование",
        "Наименование компании",
        "Company",
        "Company Name",
        "Account Name",
        "Account",
        "Organization",
        "Organisation",
    ],
    "contact_name": [
        "contact_name",
        "ФИО",
        "Контактное лицо",
        "Контакт",
        "Имя",
        "ФИО контакта",
        "Сотрудник",
        "Name",
        "Full Name",
        "Contact",
        "Contact Name",
        "Person",
    ],
    "job_title": ["job_title", "Должность", "Позиция", "Position", "Title", "Job Title"],
    "role": ["role", "Роль", "Роль в закупке", "Роль в сделке", "Role", "Buying Role"],
    "phone": [
        "phone",
        "Телефон",
        "Тел",
        "Мобильный",
        "Мобильный телефон",
        "Рабочий телефон",
        "Контактный телефон",
        "Phone",
        "Mobile",
        "Telephone",
        "Phone Number",
    ],
    "email": [
        "email",
        "E-mail",
        "Email",
        "Эл почта",
        "Электронная почта",
        "Почта",
        "Адрес почты",
        "Mail",
        "Email Address",
    ],
    "address": [
        "address",
        "Адрес",
        "Почтовый адрес",
        "Фактический адрес",
        "Адрес доставки",
        "Юридический адрес",
        "Address",
        "Postal Address",
        "Mailing Address",
    ],
    "inmail": [
        "inmail",
        "Профиль в соцсети",
        "Соцсеть",
        "Социальная сеть",
        "LinkedIn",
        "InMail",
        "Профиль LinkedIn",
        "Social",
        "Social Profile",
    ],
    "do_not_call": [
        "do_not_call",
        "Не звонить",
        "Запрет звонков",
        "Do not call",
        "DNC",
        "DoNotCall",
    ],
    "do_not_email": [
        "do_not_email",
        "Не писать",
        "Не отправлять email",
        "Отказ от рассылки",
        "Отписан",
        "Do not email",
        "DoNotEmail",
        "Unsubscribed",
        "Email opt out",
        "Email Opt Out",
    ],
    "do_not_mail": [
        "do_not_mail",
        "Не отправлять почту",
        "Не отправлять письма",
        "Do not mail",
        "DoNotMail",
    ],
    "preferred_channel": [
        "preferred_channel",
        "Предпочтительный канал",
        "Канал связи",
        "Канал",
        "Preferred Channel",
        "Channel",
    ],
    "company_type": [
        "company_type",
        "Тип компании",
        "Тип клиента",
        "Тип организации",
        "Вид деятельности",
        "Company Type",
        "Account Type",
        "Type",
        "Industry",
    ],
    "turnover": [
        "turnover",
        "Оборот",
        "Годовой оборот",
        "Выручка компании",
        "Выручка",
        "Turnover",
        "Annual Revenue",
        "Revenue",
    ],
    "headcount": [
        "headcount",
        "Численность",
        "Численность сотрудников",
        "Количество сотрудников",
        "Сотрудников",
        "Штат",
        "Headcount",
        "Employees",
        "Number of Employees",
    ],
    "region": ["region", "Регион", "Город", "Область", "Region", "City", "State"],
    "owner": [
        "owner",
        "Менеджер",
        "Ответственный",
        "Ответственный менеджер",
        "Менеджер клиента",
        "Owner",
        "Account Manager",
        "Account Owner",
        "Sales Rep",
    ],
}
CONTACT_WEAK_CUSTOMER = [
    "Клиент",
    "Контрагент",
    "Компания",
    "Организация",
    "Company",
    "Client",
    "Account",
]

ALIASES = {"orders": ORDER_ALIASES, "contacts": CONTACT_ALIASES, "companies": CONTACT_ALIASES}
WEAK_CUSTOMER = {
    "orders": ORDER_WEAK_CUSTOMER,
    "contacts": CONTACT_WEAK_CUSTOMER,
    "companies": CONTACT_WEAK_CUSTOMER,
}
REQUIRED = {
    "orders": ["customer_id", "order_date"],  # and amount, or quantity + unit_price
    "contacts": ["customer_id"],
    "companies": ["customer_id"],
}

_INDEX: dict[str, dict[str, str]] = {}


def _index(kind: str) -> dict[str, str]:
    if kind not in _INDEX:
        table: dict[str, str] = {}
        for key, names in ALIASES[kind].items():
            for name in names:
                table.setdefault(normalize_header(name), key)
        _INDEX[kind] = table
    return _INDEX[kind]


def map_headers(
    headers: list[str], kind: str, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Canonical key -> header (as written) for one file; first match wins per key.

    ``overrides`` (canonical key -> header) from the config are applied first.
    """
    mapping: dict[str, str] = {}
    used: set[str] = set()
    normalized = {h: normalize_header(h) for h in headers}
    for key, header in (overrides or {}).items():
        mapping[key] = header
        used.add(header)
    # best alias first: iterate aliases in order of preference for each key
    for key, names in ALIASES[kind].items():
        if key in mapping:
            continue
        for name in names:
            target = normalize_header(name)
            hit = next((h for h in headers if h not in used and normalized[h] == target), None)
            if hit is not None:
                mapping[key] = hit
                used.add(hit)
                break
    weak = [normalize_header(n) for n in WEAK_CUSTOMER[kind]]
    weak_hit = next(
        (h for w in weak for h in headers if normalized[h] == w and h not in used), None
    )
    if weak_hit is not None:
        if "customer_id" not in mapping:
            mapping["customer_id"] = weak_hit  # e.g. «Контрагент»: the name is the id
            mapping.setdefault("company_name", weak_hit)
            used.add(weak_hit)
        elif "company_name" not in mapping:
            mapping["company_name"] = weak_hit
            used.add(weak_hit)
    return mapping


def score_header_row(cells: list[str], kind: str) -> int:
    """How many cells of a candidate header row are known aliases (to find the header row)."""
    index = _index(kind)
    weak = {normalize_header(n) for n in WEAK_CUSTOMER[kind]}
    return sum(1 for c in cells if normalize_header(c) in index or normalize_header(c) in weak)


def expected_headers(kind: str) -> str:
    """A short list of header names the user could use, for error messages."""
    keys = REQUIRED[kind] + (["amount"] if kind == "orders" else [])
    parts = []
    for key in keys:
        names = ALIASES[kind][key][1:4]
        parts.append(f"{key} ({' / '.join(names)})")
    return ", ".join(parts)


def has_required(headers: list[str], kind: str) -> bool:
    """Whether a header row maps every required column (orders: an amount, or quantity and
    price, too)."""
    mapping = map_headers(unique_headers_for_check(headers), kind)
    if any(k not in mapping for k in REQUIRED[kind]):
        return False
    if kind == "orders":
        return "amount" in mapping or ("quantity" in mapping and "unit_price" in mapping)
    return True


def unique_headers_for_check(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for cell in headers:
        name = (cell or "").strip()
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
