"""Time segtool against the floors, in one run on the same file.

    python bench/run.py --size 1M [--reps 3] [--data bench/data] [--only duckdb,pandas]

Contenders, each timed as a whole process (wall clock; peak RSS from the kernel's
``wait4`` rusage, the number ``/usr/bin/time -v`` reports):

- ``segtool_csv``: ``segtool run --format csv`` (every CSV output and the manifest);
- ``segtool_xlsx``: ``segtool run --format xlsx,csv`` (the workbooks too);
- ``duckdb``: bench/duckdb_rfm.sql, per-customer recency / frequency / monetary and NTILE(5)
  grades from the same CSV to a CSV: the floor for "read the file and group it";
- ``pandas``: bench/pandas_rfm.py, the same job as most analysts would write it;
- ``xlsx_floor``: bench/xlsx_floor.py, a bare xlsxwriter constant_memory write of the rows
  of segtool_csv's segments, call and mail task CSVs: the floor for the workbooks (its
  write time, without start-up and CSV reading, is what the ratio uses).

segtool runs as the second month of a team's use (``--no-history`` runs it without the
contact history, as a first run would): before the timed repetitions, one untimed run as of
a month before the data's last day builds the history, and its call and mail task sheets get
statuses as a team marks them (every 7th task done, every 13th refused, every 11th in
progress). Each timed segtool repetition then starts from a copy of that history, with an
empty output folder, and so reads those statuses back, carries the open tasks, measures the
effectiveness of the first month and writes the migration report: the history, the model,
capacity and effectiveness are inside the time.

Repetitions alternate (rep 1 of every contender, then rep 2, ...) so a slow phase of the
machine hits all of them alike; the file is read once before so every contender starts
with it in the page cache. ``segtool --help`` start-up is timed too. A contender that fails
shows as failed with the tail of its stderr. The table goes to stdout and, as JSON, to
``bench/results/<size>_<timestamp>.json``. Exit code 0 even when targets are missed (the
test in tests/test_bench.py judges); 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from generate import DEFAULT_OUT  # noqa: E402  (bench/generate.py; imports nothing heavy)

CONTENDERS = ["segtool_csv", "segtool_xlsx", "duckdb", "pandas", "xlsx_floor"]
LABELS = {
    "segtool_csv": "segtool run --format csv",
    "segtool_xlsx": "segtool run --format xlsx,csv",
    "duckdb": "DuckDB SQL (RFM + NTILE)",
    "pandas": "pandas (RFM + quintiles)",
    "xlsx_floor": "xlsxwriter floor (whole process)",
}
TARGETS = {
    "segtool_csv_vs_duckdb": ("<=", 2.5),
    "pandas_vs_segtool_csv": (">=", 2.0),
    "workbooks_vs_floor": ("<=", 1.3),
    "segtool_peak_rss_mb": ("<=", 2048.0),
    "help_seconds": ("<", 0.3),
}
FLOOR_INPUTS = ("segments.csv", "call_tasks.csv", "mail_tasks.csv")


def segtool_command() -> list[str]:
    """The installed console script beside this Python, else ``python -m segtool``."""
    script = Path(sys.executable).with_name("segtool")
    if script.exists():
        return [str(script)]
    found = shutil.which("segtool")
    return [found] if found else [sys.executable, "-m", "segtool"]


MONTH_ONE_AS_OF = "2026-09-30"  # a month before the generated data's last day (31.10.2026)
HISTORY = "history.db"  # the timed runs' history, restored from MONTH_ONE_HISTORY each time
MONTH_ONE_HISTORY = "history-month1.db"


def history_args(work: Path, history: bool) -> list[str]:
    return ["--history", str(work / HISTORY)] if history else ["--no-history"]


def commands(
    config: Path, orders: Path, work: Path, *, history: bool = True
) -> dict[str, list[str]]:
    seg = segtool_command()
    py = sys.executable
    csv_out = work / "segtool_csv"
    return {
        "segtool_csv": [
            *seg,
            "--quiet",
            "run",
            "--config",
            str(config),
            "--out",
            str(csv_out),
            "--format",
            "csv",
            *history_args(work, history),
        ],
        "segtool_xlsx": [
            *seg,
            "--quiet",
            "run",
            "--config",
            str(config),
            "--out",
            str(work / "segtool_xlsx"),
            "--format",
            "xlsx,csv",
            *history_args(work, history),
        ],
        "duckdb": [py, str(HERE / "duckdb_rfm.py"), str(orders), str(work / "duckdb_rfm.csv")],
        "pandas": [py, str(HERE / "pandas_rfm.py"), str(orders), str(work / "pandas_rfm.csv")],
        "xlsx_floor": [
            py,
            str(HERE / "xlsx_floor.py"),
            str(work / "xlsx_floor"),
            *(str(csv_out / name) for name in FLOOR_INPUTS),
        ],
    }


def measure(argv: list[str], log: Path, timeout: float) -> dict:
    """Run one process; wall seconds, peak RSS (MB), CPU seconds, exit code, stderr tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT)
        except OSError as exc:
            return {"ok": False, "wall_s": None, "error": f"cannot start: {exc}"}
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    result = {
        "ok": code == 0,
        "exit_code": code,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    if code != 0:
        tail = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
        result["error"] = "\n".join(tail) or f"exit code {code}"
        if code < 0 and wall >= timeout:
            result["error"] = f"killed after the {timeout:.0f} s timeout"
    else:
        result["stdout"] = out_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    return result


def time_help(runs: int = 10) -> dict:
    argv = [*segtool_command(), "--help"]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-6:]
            return {"ok": False, "error": "\n".join(tail)}
    return {"ok": True, "median_s": statistics.median(times), "min_s": min(times), "runs": runs}


def mark_statuses(folder: Path) -> int:
    """Statuses in a run's call and mail task CSVs as a team marks them: every 7th task
    done, every 13th refused, every 11th in progress. Returns the tasks marked."""
    import csv
    import io

    marked = 0
    for name in ("call_tasks.csv", "mail_tasks.csv"):
        path = folder / name
        if not path.exists():
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
        newline = "\r\n" if b"\r\n" in raw[:65536] else "\n"
        rows = list(csv.reader(io.StringIO(text, newline="")))
        head, body = rows[0], rows[1:]
        column = head.index("status")
        for i, row in enumerate(body):
            word = "done" if i % 7 == 0 else "refused" if i % 13 == 0 else None
            word = word or ("in_progress" if i % 11 == 0 else None)
            if word:
                row[column] = word
                marked += 1
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator=newline).writerows([head, *body])
        prefix = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
        path.write_bytes(prefix + buffer.getvalue().encode("utf-8"))
    return marked


def month_one(config: Path, work: Path, timeout: float) -> dict:
    """The untimed first month: a run as of MONTH_ONE_AS_OF into work/month1 with a fresh
    history, statuses marked in its sheets, the history kept as MONTH_ONE_HISTORY."""
    for name in (HISTORY, MONTH_ONE_HISTORY):
        (work / name).unlink(missing_ok=True)
    argv = [
        *segtool_command(),
        "--quiet",
        "run",
        "--config",
        str(config),
        "--out",
        str(work / "month1"),
        "--format",
        "csv",
        "--as-of",
        MONTH_ONE_AS_OF,
        *history_args(work, True),
    ]
    result = measure(argv, work / "logs" / "month1", timeout)
    if not result["ok"]:
        raise RuntimeError(f"the first-month run failed: {result.get('error')}")
    result["tasks_marked"] = mark_statuses(work / "month1")
    shutil.move(work / HISTORY, work / MONTH_ONE_HISTORY)
    return result


def restore_history(work: Path, contender: str) -> None:
    """Each timed run starts from the first month's history and an empty output folder."""
    shutil.copyfile(work / MONTH_ONE_HISTORY, work / HISTORY)
    shutil.rmtree(work / contender, ignore_errors=True)


def step_seconds(out: Path) -> dict:
    """The run's own step timings (manifest ``timings``) and its history seconds."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    steps = dict(manifest.get("timings", {}))
    if isinstance(manifest.get("history"), dict) and "seconds" in manifest["history"]:
        steps["history (of which)"] = manifest["history"]["seconds"]
    return steps


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def summarize(runs: list[dict]) -> dict:
    good = [r for r in runs if r["ok"]]
    if not good or len(good) < len(runs):
        failed = next(r for r in runs if not r["ok"])
        return {"ok": False, "error": failed.get("error", "failed"), "runs": runs}
    walls = [r["wall_s"] for r in good]
    out = {
        "ok": True,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in good),
        "cpu_s": statistics.median(r["cpu_s"] for r in good),
        "runs": runs,
    }
    writes = []
    for r in good:
        with contextlib.suppress(ValueError, IndexError, KeyError):
            writes.append(json.loads(r.get("stdout", "").strip().splitlines()[-1])["write_seconds"])
    if writes:
        out["write_median_s"] = statistics.median(writes)
    return out


def ratios(res: dict, help_: dict) -> dict:
    def med(name: str) -> float | None:
        item = res.get(name, {})
        return item.get("median_s") if item.get("ok") else None

    def best(name: str) -> float | None:
        item = res.get(name, {})
        return item.get("min_s") if item.get("ok") else None

    seg, xlsx, duck, pandas = (med(n) for n in ("segtool_csv", "segtool_xlsx", "duckdb", "pandas"))
    seg_min, duck_min, pandas_min = (best(n) for n in ("segtool_csv", "duckdb", "pandas"))
    floor = res.get("xlsx_floor", {}).get("write_median_s")
    out: dict[str, float | None] = {
        "segtool_csv_vs_duckdb": seg / duck if seg and duck else None,
        "pandas_vs_segtool_csv": pandas / seg if seg and pandas else None,
        "workbook_part_s": xlsx - seg if seg and xlsx else None,
        "workbooks_vs_floor": (xlsx - seg) / floor if seg and xlsx and floor else None,
        "segtool_peak_rss_mb": max(
            (
                res[n]["peak_rss_mb"]
                for n in ("segtool_csv", "segtool_xlsx")
                if res.get(n, {}).get("ok")
            ),
            default=None,
        ),
        "help_seconds": help_.get("median_s") if help_.get("ok") else None,
        # the same from the fastest repetition of each, less sensitive to a busy machine
        "best_segtool_csv_vs_duckdb": seg_min / duck_min if seg_min and duck_min else None,
        "best_pandas_vs_segtool_csv": pandas_min / seg_min if seg_min and pandas_min else None,
    }
    return out


def verdict(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    op, target = TARGETS[name]
    ok = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
    return "ok" if ok else "MISSED"


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or "",
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    with contextlib.suppress(AttributeError):
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    for package in ("segtool", "polars", "duckdb", "pandas", "xlsxwriter"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    with contextlib.suppress(OSError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    return info


def table(report: dict) -> str:
    res = report["contenders"]
    lines = [
        f"segtool benchmark: {report['size']} ({report['rows']:,} order lines, "
        f"{report['file_mb']:.0f} MB CSV), {report['reps']} reps, {report['date']}",
        "segtool as month two, with the contact history of month one"
        if report.get("history")
        else "segtool without the contact history",
        f"{'contender':36} {'median s':>9} {'min s':>8} {'cpu s':>7} {'peak RSS MB':>12}  status",
    ]
    for name in report["order"]:
        item = res[name]
        if item.get("ok"):
            lines.append(
                f"{LABELS[name]:36} {item['median_s']:9.2f} {item['min_s']:8.2f} "
                f"{item['cpu_s']:7.2f} {item['peak_rss_mb']:12.0f}  ok"
            )
            if "write_median_s" in item:
                lines.append(
                    f"{'  xlsxwriter floor, write part only':36} {item['write_median_s']:9.2f}"
                )
        else:
            lines.append(f"{LABELS[name]:36} {'-':>9} {'-':>8} {'-':>7} {'-':>12}  FAILED")
            for err in str(item.get("error", "")).splitlines()[-6:]:
                lines.append(f"    | {err[:150]}")
    for name in ("segtool_csv", "segtool_xlsx"):
        item = res.get(name, {})
        steps = [r.get("steps") or {} for r in item.get("runs", []) if r.get("ok")]
        if steps:
            keys = list(dict.fromkeys(k for s in steps for k in s))
            shown = ", ".join(
                f"{k} {statistics.median(s[k] for s in steps if k in s):.2f}" for k in keys
            )
            lines.append(f"  {name} steps (median s): {shown}")
    help_ = report["startup"]
    if help_.get("ok"):
        lines.append(
            f"{'segtool --help (start-up)':36} {help_['median_s']:9.3f} {help_['min_s']:8.3f}"
        )
    else:
        lines.append(f"{'segtool --help (start-up)':36} FAILED: {help_.get('error', '')[:80]}")
    r = report["ratios"]

    def show(value, fmt):
        return "n/a" if value is None else format(value, fmt)

    lines += [
        "",
        f"segtool csv / duckdb          = {show(r['segtool_csv_vs_duckdb'], '.2f'):>7}   "
        f"target <= 2.5  {verdict('segtool_csv_vs_duckdb', r['segtool_csv_vs_duckdb'])}",
        f"pandas / segtool csv          = {show(r['pandas_vs_segtool_csv'], '.2f'):>7}   "
        f"target >= 2    {verdict('pandas_vs_segtool_csv', r['pandas_vs_segtool_csv'])}",
        f"workbook part / xlsx floor    = {show(r['workbooks_vs_floor'], '.2f'):>7}   "
        f"target <= 1.3  {verdict('workbooks_vs_floor', r['workbooks_vs_floor'])}"
        f"   (workbook part = xlsx run - csv run = {show(r['workbook_part_s'], '.2f')} s)",
        f"segtool peak RSS MB           = {show(r['segtool_peak_rss_mb'], '.0f'):>7}   "
        f"target <= 2048 {verdict('segtool_peak_rss_mb', r['segtool_peak_rss_mb'])}",
        f"segtool --help s              = {show(r['help_seconds'], '.3f'):>7}   "
        f"target < 0.3   {verdict('help_seconds', r['help_seconds'])}",
        f"(fastest reps: segtool csv / duckdb = {show(r['best_segtool_csv_vs_duckdb'], '.2f')}, "
        f"pandas / segtool csv = {show(r['best_pandas_vs_segtool_csv'], '.2f')})",
    ]
    return "\n".join(lines)


def run(
    size: str,
    reps: int,
    data: Path,
    only: list[str],
    timeout: float,
    results: Path | None,
    history: bool = True,
) -> dict:
    # generate in a child process: this one must stay small, because a child's peak RSS
    # as the kernel reports it is at least the RSS of the process that started it
    made = subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--size", size, "--out", str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        check=False,
    )
    if made.returncode != 0:
        raise ValueError(f"bench/generate.py --size {size} failed")
    config = Path(made.stdout.decode().strip().splitlines()[-1])
    folder = config.parent
    orders = folder / "orders.csv"
    work = folder / "runs"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    argvs = commands(config, orders, work, history=history)
    order = [name for name in CONTENDERS if name in only]
    warm(orders)
    first_month = None
    if history and {"segtool_csv", "segtool_xlsx"} & set(order):
        first_month = month_one(config, work, timeout)
        print(
            f"first month (untimed): {first_month['wall_s']:.2f} s, "
            f"{first_month['tasks_marked']:,} task statuses marked",
            file=sys.stderr,
            flush=True,
        )
    runs: dict[str, list[dict]] = {name: [] for name in order}
    for rep in range(1, reps + 1):
        for name in order:
            if history and name.startswith("segtool_"):
                restore_history(work, name)
            result = measure(argvs[name], work / "logs" / f"{name}_{rep}", timeout)
            if result["ok"] and name.startswith("segtool_"):
                result["steps"] = step_seconds(work / name)
            runs[name].append(result)
            shown = f"{result['wall_s']:.2f} s" if result["ok"] else "FAILED"
            print(f"rep {rep}/{reps}: {name} {shown}", file=sys.stderr, flush=True)
    contenders = {name: summarize(runs[name]) for name in order}
    startup = time_help()
    with open(orders, "rb") as fh:
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b"")) - 1
    report = {
        "size": size,
        "rows": rows,
        "file_mb": orders.stat().st_size / 1e6,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "reps": reps,
        "history": history,
        "first_month": first_month,
        "order": order,
        "commands": {name: argvs[name] for name in order},
        "machine": machine(),
        "contenders": contenders,
        "startup": startup,
        "ratios": ratios(contenders, startup),
        "targets": {k: f"{op} {v}" for k, (op, v) in TARGETS.items()},
    }
    report["verdicts"] = {k: verdict(k, report["ratios"].get(k)) for k in TARGETS}
    if results is not None:
        results.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = results / f"{size}_{stamp}.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        report["json_path"] = str(path)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1M", help="1M, 10M, 100M (or e.g. 200k)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--results", type=Path, default=HERE / "results", help="folder for the JSON report"
    )
    parser.add_argument(
        "--only", default=",".join(CONTENDERS), help="comma-separated contenders (default: all)"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per process")
    parser.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        help="time segtool without the contact history (a first run), not as month two",
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(CONTENDERS))
    if unknown or args.reps < 1:
        print(
            f"error: unknown contender(s) {unknown}; choose from {CONTENDERS}"
            if unknown
            else "error: --reps must be at least 1",
            file=sys.stderr,
        )
        return 2
    try:
        report = run(
            args.size, args.reps, args.data, only, args.timeout, args.results, args.history
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(table(report))
    if "json_path" in report:
        print(f"\nwritten: {report['json_path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
