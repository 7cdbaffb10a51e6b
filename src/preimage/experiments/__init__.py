"""The papers' analyses as reproducible experiments: ``preimage experiment NAME -o DIR``.

Each experiment is one module that registers a ``run(ctx) -> summary`` function
with :data:`EXPERIMENTS`; it writes PNG grids, CSV tables and ``summary.json``
into ``DIR/NAME``. ``quick=True`` shrinks every loop so the whole run takes
well under a minute (the test suite runs them all that way).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preimage.files import atomic_path, write_json
from preimage.registry import Registry


@dataclass
class Context:
    """What every experiment receives."""

    out: Path
    quick: bool = False
    seed: int = 0
    model: str = "alexnet64"
    weights: str = "default"
    data: str | None = None  # e.g. ../shared/data/tiny-imagenet-200 (experiments that need a test set)
    options: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        return self.out / name


Experiment = Callable[[Context], dict[str, Any]]
EXPERIMENTS: Registry[dict[str, Any]] = Registry("experiment")


def register_experiment(name: str, help: str = "") -> Callable[[Experiment], Experiment]:
    return EXPERIMENTS.register(name, help)


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_experiment(name: str, ctx: Context) -> dict[str, Any]:
    """Run one registered experiment into ``ctx.out / name`` and write its ``summary.json``."""
    _load_all()
    fn = EXPERIMENTS.get(name)
    sub = Context(ctx.out / name, ctx.quick, ctx.seed, ctx.model, ctx.weights, ctx.data, ctx.options)
    start = time.time()
    summary = fn(sub)
    summary = {
        "experiment": name,
        "quick": ctx.quick,
        "seed": ctx.seed,
        "model": ctx.model,
        "seconds": round(time.time() - start, 1),
        **summary,
    }
    write_json(sub.path("summary.json"), summary, default=str)
    return summary


def list_experiments() -> list[str]:
    _load_all()
    return EXPERIMENTS.names()


def _load_all() -> None:
    from preimage.experiments import detail_budget as _detail_budget  # noqa: F401
    from preimage.experiments import feature_maps as _feature_maps  # noqa: F401
    from preimage.experiments import layers as _layers  # noqa: F401
    from preimage.experiments import preimages as _preimages  # noqa: F401
    from preimage.experiments import shallow as _shallow  # noqa: F401
