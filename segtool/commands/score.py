"""`segtool score`: workspace orders (+ contacts) -> scores.parquet, as_of in the manifest."""

from __future__ import annotations

import time
from pathlib import Path

from segtool import console
from segtool.commands import load, parse_as_of, workspace_for
from segtool.errors import EXIT_OK
from segtool.manifest import add_model, add_score, as_of_source
from segtool.report import score_lines


def execute(
    config_path: Path | None, workspace_override: Path | None, as_of_text: str | None
) -> int:
    from segtool.steps.model import apply_model
    from segtool.steps.score import check_as_of, count_after, resolve_as_of, score

    cfg = load(config_path)
    workspace = workspace_for(cfg, workspace_override)
    requested = parse_as_of(as_of_text)
    source = as_of_source(as_of_text)
    with workspace.lock():
        manifest = workspace.manifest()
        orders = workspace.scan("orders")
        contacts = workspace.scan("contacts") if workspace.has("contacts") else None
        start = time.perf_counter()
        with console.step("scoring customers"):
            as_of = resolve_as_of(
                orders,
                requested,
                source=", ".join(
                    Path(i["path"]).name
                    for i in manifest.get("inputs", [])
                    if i.get("kind") == "orders"
                )
                or "the orders file",
            )
            ignored = count_after(orders, as_of)
            warnings = check_as_of(orders, as_of, given=requested is not None, ignored=ignored)
            scores = score(orders, contacts, cfg, as_of).collect(engine="streaming")
        manifest.setdefault("timings", {})["score"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        with console.step("fitting the model (P(alive), expected orders)"):
            scores, model = apply_model(scores, cfg)
        add_model(manifest, model)
        manifest["timings"]["model"] = round(time.perf_counter() - start, 3)
        add_score(
            manifest, as_of=as_of, source=source, orders_after=ignored, warnings=warnings, cfg=cfg
        )
        workspace.save({"scores": scores}, manifest)

    buyers = int((scores["orders"] > 0).sum())
    leads = int(scores["is_lead"].sum())
    console.info(f"as of {as_of.isoformat()} ({source})")
    console.info(
        f"customers scored: {scores.height} ({buyers} with orders, {leads} leads, "
        f"{scores.height - buyers - leads} with returns only)"
    )
    console.info(f"orders after as_of ignored: {ignored}")
    for message in score_lines(warnings, model).warnings:
        console.warn(message)
    return EXIT_OK
