"""`segtool init`: write a commented starter config and the default playbook."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from segtool import console
from segtool.errors import E_INIT_EXISTS, EXIT_OK, SegtoolError
from segtool.io.atomic import atomic_file

FILES = ("segtool.yaml", "playbook.yaml")


def execute(directory: Path, *, force: bool = False) -> int:
    directory = Path(directory)
    targets = [directory / name for name in FILES]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise SegtoolError(
            f"{', '.join(existing)} already exist; use --force to overwrite", code=E_INIT_EXISTS
        )
    defaults = resources.files("segtool") / "defaults"
    for name, target in zip(FILES, targets, strict=True):
        data = (defaults / name).read_bytes()
        with atomic_file(target) as handle:
            handle.write(data)
        console.info(f"wrote {target}")
    console.info(
        f"next: put your exports where {directory / 'segtool.yaml'} says (inputs.orders.path), "
        f"then run: segtool run --config {directory / 'segtool.yaml'} --out out"
    )
    return EXIT_OK
