"""Shared training plumbing: seeding, atomic checkpoints, metrics logs, fp16 export."""

from __future__ import annotations

import csv
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from preimage.errors import PreimageError
from preimage.files import atomic_path


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch generator for data order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file, fsync, then rename: a crash never leaves half a checkpoint."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PreimageError(f"no checkpoint at {path} — drop --resume to start a new run")
    try:
        ckpt: dict[str, Any] = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise PreimageError(
            f"checkpoint {path} is unreadable ({exc.__class__.__name__}) — use the previous one or start again"
        ) from None
    return ckpt


class MetricsLog:
    """Append-only CSV of scalars, a JSON-lines twin (``step``, ``tag``, ``value``, ``wall``) and a
    TensorBoard event file (``tensorboard --logdir RUN`` shows the curves; no tensorboard needed to write).
    """

    def __init__(self, run_dir: str | Path, name: str = "metrics") -> None:
        from preimage.training.tfevents import EventWriter

        self.csv_path = Path(run_dir) / f"{name}.csv"
        self.jsonl_path = Path(run_dir) / f"{name}.scalars.jsonl"
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.events = EventWriter(run_dir)

    def log(self, row: dict[str, float | int | str]) -> None:
        new = not self.csv_path.is_file()
        with open(self.csv_path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        step = int(row.get("step", row.get("epoch", 0)))
        with open(self.jsonl_path, "a") as fh:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("step", "epoch"):
                    now = time.time()
                    fh.write(json.dumps({"tag": key, "step": step, "value": value, "wall": now}) + "\n")
                    self.events.scalar(key, float(value), step, now)


def export_safetensors(
    state: dict[str, torch.Tensor],
    path: str | Path,
    fp16: bool = True,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write weights as safetensors (fp16 by default), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {
        k: (v.detach().half() if fp16 and v.is_floating_point() else v.detach()).contiguous() for k, v in state.items()
    }
    with atomic_path(path) as tmp:
        save_file(out, str(tmp), metadata=metadata or {})
    return path


@dataclass
class Progress:
    """Where a training run stands; saved with every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    wall: float = 0.0  # seconds spent training (excluding data loading at start-up and evaluation)
    history: list[dict[str, Any]] = field(default_factory=list)


def save_training_state(
    path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer, progress: Progress, config: dict[str, Any]
) -> None:
    """Atomic checkpoint of model, optimiser and progress."""
    atomic_save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": progress.epoch,
            "step_in_epoch": progress.step_in_epoch,
            "wall": progress.wall,
            "history": progress.history,
            "config": config,
        },
        path,
    )


def load_training_state(path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> Progress:
    """Restore a checkpoint written by :func:`save_training_state` (fp16 checkpoints are widened)."""
    ckpt = load_checkpoint(path)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()})
    opt.load_state_dict(ckpt["optimizer"])
    print(f"resumed from {path}: epoch {ckpt['epoch']}, step {ckpt['step_in_epoch']}", flush=True)
    return Progress(ckpt["epoch"], ckpt["step_in_epoch"], ckpt["wall"], ckpt["history"])


def _to_half(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.half() if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: _to_half(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_half(v) for v in obj]
    return obj


def shrink_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """An fp16 copy of a training checkpoint, small enough to commit so another machine can ``--resume``.

    Model and optimiser tensors are halved (the optimiser casts its state back to the parameters' dtype on
    load); progress, history and config are kept exactly.
    """
    ckpt = load_checkpoint(src)
    atomic_save(_to_half(ckpt), dst)
    return Path(dst)
