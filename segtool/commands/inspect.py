"""`segtool inspect FILE…`: how each file would be read, and a few parsed rows.

The report is this command's output, so it goes to stdout (plain text when piped).
"""

from __future__ import annotations

import sys
from pathlib import Path

from segtool.commands import find_config
from segtool.config import Config, load_config
from segtool.errors import EXIT_OK, SegtoolError

DELIMITER_NAMES = {";": "semicolon ;", ",": "comma ,", "\t": "tab", "|": "pipe |"}


def _guess_kind(headers: list[str]) -> str:
    from segtool.io.aliases import map_headers

    orders = map_headers(headers, "orders")
    contacts = map_headers(headers, "contacts")
    order_keys = {"order_date", "amount", "order_id", "quantity"} & orders.keys()
    contact_keys = {"contact_name", "job_title", "phone", "email"} & contacts.keys()
    return "orders" if len(order_keys) >= len(contact_keys) else "contacts"


def _config(config_path: Path | None) -> Config:
    from segtool.config import Config as _C

    try:
        return load_config(find_config(config_path))
    except SegtoolError:
        if config_path is not None:
            raise
        cfg = _C.model_validate({"inputs": {"orders": {"path": "-"}}})
        return cfg


def inspect_file(path: Path, cfg: Config, rows: int, sheet: str | None) -> list[str]:
    import polars as pl

    from segtool.io.readers import read_table
    from segtool.steps.ingest import _run_plan, column_mapping, detect_formats

    fm = cfg.inputs.formats
    raw = read_table(path, "orders", encoding=fm.encoding, delimiter=fm.delimiter, sheet=sheet)
    kind = _guess_kind(raw.headers)
    if kind != "orders":
        raw.cleanup()
        raw = read_table(path, kind, encoding=fm.encoding, delimiter=fm.delimiter, sheet=sheet)
    out = [f"{path}"]
    try:
        overrides = getattr(cfg.inputs.columns, kind)
        if raw.sheet:
            out.append(f"  type:        {raw.file_type}, sheet {raw.sheet!r}")
        elif raw.file_type == "HTML":
            out.append(f"  type:        HTML table, encoding {raw.encoding}")
        else:
            out.append(
                f"  type:        CSV, encoding {raw.encoding}, delimiter "
                f"{DELIMITER_NAMES.get(raw.delimiter or '', repr(raw.delimiter))}"
            )
        out.append(f"  header row:  {raw.header_row}")
        out.append(f"  read as:     {kind}")
        try:
            mapping = column_mapping(raw, kind, overrides)
        except SegtoolError as exc:
            out.append(f"  PROBLEM:     {exc.message}")
            return out
        fmt = detect_formats(raw, mapping, cfg)
        head = type(raw)(**{**raw.__dict__, "frame": raw.frame.head(rows), "temp_files": []})
        accepted, rejects, _ = _run_plan(head, fmt, cfg, kind)  # settles dates and currency
        out.append(
            f"  numbers:     decimal {fmt.decimal}; a point-thousands value in a "
            "comma file (1.250) is rejected as ambiguous_amount"
            if fmt.decimal == "comma"
            else f"  numbers:     decimal {fmt.decimal}"
        )
        if kind == "orders":
            out.append(
                f"  dates:       {fmt.date_order} (the whole file's dates decide; "
                "contradicting ones are rejected as ambiguous_date)"
            )
            if fmt.rates:
                rates = ", ".join(f"{k} × {v:g}" for k, v in fmt.rates.items())
                out.append(f"  currency:    converted by inputs.formats.currency: {rates}")
            else:
                out.append(
                    f"  currency:    {fmt.currency or 'not marked'}; amounts marked "
                    "in another currency are rejected as other_currency"
                )
            if fmt.grouped:
                out.append(
                    "  layout:      a grouped report: each customer line is carried "
                    "to the order lines under it (the line itself: group_header)"
                )
        ids = (
            "company names (no id column): case, quotes and legal form folded"
            if fmt.names_as_ids
            else "ИНН: spelling folded, 9/11 digits get their leading zero back"
            if fmt.inn
            else "spelling and Cyrillic/Latin look-alikes folded"
        )
        out.append(f"  ids:         {ids}; 7,70E+09 is rejected as bad_id")
        out.append(
            "  totals:      Итого / Всего / Total / Subtotal lines are rejected as totals_row"
        )
        out.append("  columns:")
        width = max(len(k) for k in mapping)
        for key, header in mapping.items():
            out.append(f"    {key:<{width}}  ← «{header}»")
        for header in fmt.unmapped:
            out.append(f"    {'(not used)':<{width}}  ← «{header}»")
        if kind == "orders":
            out.append("  " + _periods_line(mapping, cfg))
        if fmt.id_fixes:
            folded = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fmt.id_fixes.items())
            out.append(f"  ids folded in these rows: {folded}")
        shown = accepted.drop("source_file")
        out.append(f"  first {rows} rows as parsed:")
        with pl.Config(tbl_rows=rows, tbl_cols=12, fmt_str_lengths=30, tbl_width_chars=160):
            out.extend("    " + line for line in str(shown).splitlines())
        for r in rejects.iter_rows(named=True):
            out.append(
                f"    row {r['row']}: would be rejected ({r['reason']}): "
                f"column «{r['column']}» = {r['value']!r}"
            )
    finally:
        raw.cleanup()
    return out


def _periods_line(mapping: dict[str, str], cfg: Config) -> str:
    """Which column period categories (``periods.categories``) are matched against."""
    if not cfg.periods.categories:
        return "periods:     default periods only (no periods.categories in the config)"
    if "category" in mapping:
        return f"periods:     periods.categories match the category column «{mapping['category']}»"
    return (
        "periods:     no category column: periods.categories do not apply, every line "
        "uses periods.default (map a column to 'category' in inputs.columns.orders)"
    )


def execute(
    files: list[Path], *, rows: int = 5, sheet: str | None = None, config_path: Path | None = None
) -> int:
    cfg = _config(config_path)
    for i, path in enumerate(files):
        if i:
            print()
        lines = inspect_file(Path(path), cfg, max(rows, 1), sheet)
        sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK
