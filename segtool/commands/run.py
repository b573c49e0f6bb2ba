"""`segtool run`."""

from __future__ import annotations


def execute(*args, **kwargs) -> int:
    raise NotImplementedError("segtool run")
