"""Benchmark inputs: ``python bench/generate.py --size 1M|10M|100M [--out bench/data]``.

Writes ``<out>/<size>/orders.csv`` and ``contacts.csv`` with sample_data/generate.py's
generator (same format as sample_data: ``;``, decimal comma, Russian headers, dd.mm.yyyy,
returns, a few broken rows, about one customer per 40 lines), and ``segtool.yaml``
pointing at them. Contacts are CSV like the orders: the contender issue 7 sets is "CSV in
→ CSV out" (a 560k-person contacts workbook alone takes calamine ~5 s to read at 10M;
docs/performance.md). Files already there are kept (delete
the folder to regenerate). Prints the config path on stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "data"


def load_generator():
    """sample_data/generate.py as a module (it is a script, not part of the package)."""
    name = "sample_data_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "sample_data" / "generate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def parse_size(size: str) -> int:
    """``1M`` -> 1_000_000; also ``200k``, ``2.5M``, ``100M``, plain numbers."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", size.strip())
    if not match:
        raise ValueError(f"size {size!r}: expected e.g. 1M, 10M, 100M or 200k")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def config_text(contacts: Path) -> str:
    return (
        "# benchmark input, written by bench/generate.py\n"
        "language: ru\n"
        "inputs:\n"
        "  orders:\n"
        "    path: orders.csv\n"
        "  contacts:\n"
        f"    path: {contacts.name}\n"
    )


def ensure(size: str, out: Path = DEFAULT_OUT, *, seed: int = 42, quiet: bool = False) -> Path:
    """The config of the ``size`` data set, generating the files when absent."""
    lines = parse_size(size)
    folder = out / size
    orders = folder / "orders.csv"
    contacts = folder / "contacts.csv"
    if not orders.exists() or not contacts.exists():
        started = time.perf_counter()
        gen = load_generator()
        result = gen.generate(
            folder, lines=lines, seed=seed, leads=max(20, lines // 40 // 15), contacts_format="csv"
        )
        contacts = result.contacts_path
        if not quiet:
            print(
                f"generated {result.rows:,} order lines, {result.customers:,} customers, "
                f"{result.contacts:,} contacts in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    elif not quiet:
        print(f"using existing {orders}", file=sys.stderr)
    config = folder / "segtool.yaml"
    text = config_text(contacts)
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M", help="order lines: 1M, 10M, 100M, 200k...")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        print(ensure(args.size, args.out, seed=args.seed))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
