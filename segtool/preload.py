"""Modules a run needs only after its inputs are read, imported in a background thread.

Reading the inputs is polars' work, done outside the GIL, and importing numpy, scipy's
optimiser and the model step is ~0.3-0.5 s of Python start-up: side by side they overlap.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator, Sequence

# what the value model (segtool.steps.model) imports, heaviest first
MODEL_MODULES = ("numpy", "scipy.special", "scipy.optimize", "segtool.steps.model")


@contextlib.contextmanager
def preloading(modules: Sequence[str]) -> Iterator[None]:
    """Import ``modules`` in a background thread while the body runs; a module the main
    thread imports meanwhile waits for the thread's import of it (Python's per-module
    import locks). The thread is joined on the way out, so it is never left importing
    while the interpreter shuts down after an early error. A module that fails to import
    is left alone: the main thread's own import then reports it."""

    def load() -> None:
        for name in modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="segtool-preload", daemon=True)
    if modules:
        thread.start()
    try:
        yield
    finally:
        if modules:
            thread.join()
