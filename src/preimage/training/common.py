"""Shared training plumbing: seeding, atomic checkpoints, metrics logs, fp16 export, and run safety.

Run safety: a run folder that holds a checkpoint is never started over by accident (:func:`prepare_run`),
a resumed run must use the settings it was started with (:func:`check_resume_config`), SIGINT/SIGTERM
write a checkpoint before the process ends (:class:`StopSignals`), a non-finite loss stops the run before
it can overwrite the last good checkpoint (:func:`check_finite`), and a run with zero steps is refused
(:func:`steps_per_epoch`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import random
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from preimage import options as check
from preimage.errors import PreimageError, RunInterrupted
from preimage.files import atomic_path
from preimage.inverters.decoders import CODE_TRANSFORMS
from preimage.options import option
from preimage.runtime import AMP_CHOICES
from preimage.zoo import export_safetensors  # noqa: F401  (the trainers' name for it)


@dataclass(kw_only=True)
class DataConfig:
    """The settings of every run that fits to a shard set: where the data is, where the run goes, the seed.

    A run's own config subclasses it (and may change a default by declaring the field again, plainly).
    """

    data: str = option(help="shard folder with train-*.tar.gz and val-*.tar.gz")
    out: str = option(help="run folder: checkpoint, metrics, weights, model card", flags=("-o", "--out"))
    seed: int = option(0, "random seed (initialisation, data order, augmentation)", parse=check.seed)
    limit_train: int | None = option(None, "use only the first N training images (None: all)", parse=check.positive)
    cache_dir: str | None = option(None, "keep decoded uint8 arrays (and stored codes) here between runs")
    train_pattern: str = option("train-*.tar.gz", "training shards in the data folder", cli=False)
    val_pattern: str = option("val-*.tar.gz", "validation shards in the data folder", cli=False)


@dataclass(kw_only=True)
class CodeConfig(DataConfig):
    """The settings of every run that maps a representation's codes back to images: which representation,
    of which network weights, at which sizes, and how its codes enter."""

    rep: str = option(help="hog, lbp, sift (lbp@4: another cell size) or alexnet64:LAYER")
    input_size: int = option(
        64, "side in pixels of the image the representation sees", parse=check.size, flags=("--size", "--input-size")
    )
    output_size: int | None = option(
        None,
        "side in pixels of the reconstruction (None: the input size); the paper's protocol computes features of "
        "the full photo (--size 224) and predicts it downsampled (--output-size 64, bilinear with antialiasing)",
        parse=check.size,
    )
    # the decoder records the weights' SHA-256, so it only ever decodes codes of these weights
    encoder_weights: str = option(
        "default",
        "the network's weights for MODEL:LAYER: 'default' (shipped) or a .safetensors/.pth file",
        flags=("--weights",),
    )
    code_transform: str = option(
        "identity",
        "how codes enter: identity, log (log-probabilities, for MODEL:prob) or centred-log "
        "(log-probabilities less their mean: the logits up to softmax's constant)",
        choices=CODE_TRANSFORMS,
    )


@dataclass(kw_only=True)
class RunConfig(DataConfig):
    """The settings every training run shares: length, batch, learning rate, precision, checkpoints."""

    epochs: int = option(10, "passes over the training images", parse=check.positive)
    batch_size: int = option(64, "images per step (under torchrun: the global batch)", parse=check.positive)
    lr: float = option(1e-3, "peak learning rate", parse=check.positive_float)
    amp: str = option(
        "auto",
        "bf16 autocast; auto: bf16 where the hardware has it (a GPU, or a CPU with AVX512-BF16/AMX), none elsewhere "
        "(emulated bf16 is ~20x slower than float32); resolved when the run starts",
        choices=AMP_CHOICES,
    )
    limit_val: int | None = option(1000, "validation images per epoch (None: all)", parse=check.positive)
    checkpoint_every_s: float = option(
        300.0,
        "seconds between mid-epoch checkpoints (one is also written after every epoch and on Ctrl-C/SIGTERM)",
        parse=check.positive_float,
        flags=("--checkpoint-every",),
    )
    stop_after_epochs: int | None = option(
        None,
        "end this process after epoch N, to continue later with --resume (None: run to the end)",
        parse=check.positive,
        flags=("--stop-after",),
    )
    # torch threads (None: the resumed run's count, else every core this process may use; see training_threads);
    # every command takes --threads
    threads: int | None = option(None, "torch threads", parse=check.threads, cli=False)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch generator for data order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# a checkpoint file: this tag, the SHA-256 of the payload, then the payload (torch.save's bytes); the digest
# tells a damaged file from a good one before its numbers are trusted (a file damaged inside a tensor still
# loads, and its NaN would be blamed on the learning rate)
CHECKPOINT_MAGIC = b"PIMGCKP1"


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` with a checksum to a temporary file, fsync, then rename: a crash never leaves half a
    checkpoint, and damage done later is found on load (:func:`load_checkpoint`)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    payload = buffer.getvalue()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(CHECKPOINT_MAGIC + hashlib.sha256(payload).digest())
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`atomic_save`, its checksum verified (files without one, from
    before checksums, are read as they are)."""
    path = Path(path)
    if not path.is_file():
        raise PreimageError(f"no checkpoint at {path}")
    data = path.read_bytes()
    source: Any = str(path)
    if data.startswith(CHECKPOINT_MAGIC):
        digest, payload = data[len(CHECKPOINT_MAGIC) : len(CHECKPOINT_MAGIC) + 32], data[len(CHECKPOINT_MAGIC) + 32 :]
        if hashlib.sha256(payload).digest() != digest:
            raise PreimageError(
                f"checkpoint {path} is corrupt (its checksum does not match its contents) — restore a copy or "
                "start again with `overwrite`"
            )
        source = io.BytesIO(payload)
    try:
        ckpt: dict[str, Any] = torch.load(source, map_location="cpu", weights_only=False)
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

    def catch_up(self, history: list[dict[str, Any]]) -> None:
        """Log the rows of ``history`` the log lacks: a run killed after its checkpoint recorded an epoch and
        before the log did (the checkpoint is written first, so the log never runs ahead of it)."""
        logged = 0
        if self.csv_path.is_file():
            with open(self.csv_path, newline="") as fh:
                logged = sum(1 for _ in csv.DictReader(fh))
        for row in history[logged:]:
            self.log(row)

    def log(self, row: dict[str, float | int | str]) -> None:
        # the CSV is rewritten whole through a temporary file: a kill never leaves half a row in it
        old = self.csv_path.read_bytes() if self.csv_path.is_file() else b""
        with atomic_path(self.csv_path) as tmp, open(tmp, "w", newline="") as fh:
            fh.write(old.decode("utf-8"))
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if not old:
                writer.writeheader()
            writer.writerow(row)
        step = int(row.get("step", row.get("epoch", 0)))
        _drop_partial_line(self.jsonl_path)
        now = time.time()
        scalars = [(k, v) for k, v in row.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")]
        lines = "".join(json.dumps({"tag": k, "step": step, "value": v, "wall": now}) + "\n" for k, v in scalars)
        with open(self.jsonl_path, "a") as fh:
            fh.write(lines)  # one write: a kill leaves at most one partial last line, dropped by the next log
        for key, value in scalars:
            self.events.scalar(key, float(value), step, now)


def _drop_partial_line(path: Path) -> None:
    """Cut a JSON-lines file back to its last complete line (a process killed mid-append leaves half a one)."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


CHECKPOINT_NAME = "checkpoint.pt"


class RunPaths:
    """Where a training run's files go and how long its epochs are, for run objects that hold ``cfg`` (a
    :class:`RunConfig`) and ``train_x`` (the training images)."""

    cfg: RunConfig
    train_x: torch.Tensor

    @property
    def folder(self) -> Path:
        return Path(self.cfg.out)

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT_NAME

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(len(self.train_x), self.cfg.batch_size)


@dataclass
class Progress:
    """Where a training run stands; saved with every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    wall: float = 0.0  # seconds spent training (excluding data loading at start-up and evaluation)
    history: list[dict[str, Any]] = field(default_factory=list)
    # the epoch's running sums so far, so a run resumed mid-epoch logs the whole epoch's means
    sums: dict[str, float] = field(default_factory=dict)


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
            "sums": progress.sums,
            "config": config,
        },
        path,
    )


def load_training_state(
    path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer, config: dict[str, Any] | None = None
) -> Progress:
    """Restore a checkpoint written by :func:`save_training_state` (fp16 checkpoints are widened).

    With ``config`` (the settings of this run), settings that differ from the checkpoint's are an error.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    if config is not None:
        check_resume_config(ckpt.get("config", {}), config, path)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["model"].items()})
        opt.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise PreimageError(
            f"`resume`: {path} does not fit this model ({first}) — resume with the checkpoint's settings"
        ) from None
    print(f"resumed from {path}: epoch {ckpt['epoch']}, step {ckpt['step_in_epoch']}", flush=True)
    return Progress(ckpt["epoch"], ckpt["step_in_epoch"], ckpt["wall"], ckpt["history"], ckpt.get("sums", {}))


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


RUN_FILES = (CHECKPOINT_NAME, "metrics.csv", "metrics.scalars.jsonl", "config.json", "summary.json")
# settings a resumed run may change: how long it runs, how often it checkpoints, where its caches and
# output live and how many processes/threads compute it; everything else changes the model or the data
RESUME_MAY_CHANGE = frozenset(
    {"epochs", "checkpoint_every_s", "stop_after_epochs", "cache_dir", "workers", "device", "out", "threads"}
)


def prepare_run(run: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over an existing one unless ``overwrite``; with it, clear the old run's logs.

    ``resume`` needs the checkpoint (:func:`load_checkpoint` says so); without ``resume`` a folder holding a
    checkpoint is an error naming both ways on.
    """
    from preimage.files import check_folder

    check_folder(run)
    if resume:
        if not (run / CHECKPOINT_NAME).is_file():
            raise PreimageError(f"no checkpoint at {run / CHECKPOINT_NAME} — drop `resume` to start a new run")
        return
    if (run / CHECKPOINT_NAME).is_file() and not overwrite:
        raise PreimageError(
            f"{run} holds a training run (checkpoint.pt): pass `resume` to continue it, or `overwrite` to start "
            "again from scratch"
        )
    if overwrite:
        for name in RUN_FILES:
            (run / name).unlink(missing_ok=True)
        for events in run.glob("events.out.tfevents.*"):
            events.unlink()


def check_resume_config(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """A one-line error naming every setting that differs from the checkpoint's (outside RESUME_MAY_CHANGE)."""
    # a setting the checkpoint does not record is newer than the checkpoint: nothing to compare it with
    keys = sorted((set(saved) & set(current)) - RESUME_MAY_CHANGE)
    differ = [k for k in keys if _comparable(k, saved.get(k)) != _comparable(k, current.get(k))]
    if differ:
        shown = ", ".join(f"`{k}` {saved.get(k)!r} (now {current.get(k)!r})" for k in differ)
        raise PreimageError(
            f"`resume`: {path} was trained with {shown} — resume with the checkpoint's settings, or start a new "
            "run with `overwrite` or another `out`"
        )


# settings that name files or folders: "../shared/data/x" and "/work/shared/data/x" are the same data
PATH_SETTINGS = frozenset({"data", "init_decoder", "weights", "teachers"})


def _comparable(key: str, value: Any) -> Any:
    if key in PATH_SETTINGS and isinstance(value, str):
        return str(Path(value).resolve())
    if key in PATH_SETTINGS and isinstance(value, (list, tuple)):
        return [str(Path(v).resolve()) if isinstance(v, str) else v for v in value]
    return list(value) if isinstance(value, tuple) else value


def steps_per_epoch(n_train: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps per epoch; a run that would take none is refused instead of exporting an untrained model."""
    steps = n_train // batch_size
    if steps < 1:
        raise PreimageError(
            f"`batch_size={batch_size}` is larger than the {n_train} training images (`limit_train`): an epoch "
            f"would take no step — use `batch_size` <= {n_train} or more images"
        )
    return steps


def check_finite(loss: torch.Tensor | float, where: str, ckpt: Path, bound: float | None = None) -> None:
    """Stop the run on a NaN/Inf loss, or one above ``bound``, before a checkpoint could store the damaged weights.

    ``bound``: a loss no run that is still converging reaches (a pixel MSE against images in [0, 1] above 1
    means the outputs left the image range by a whole image's width: the run diverged, however finite).
    """
    value = float(loss)
    if math.isfinite(value) and (bound is None or value <= bound):
        return
    kept = f"the last good checkpoint {ckpt} is kept" if ckpt.is_file() else "no checkpoint was written"
    if not math.isfinite(value):
        raise PreimageError(
            f"the training loss became {value} at {where}; stopped ({kept}) — lower `lr` or use `amp=none`, "
            "then `resume` or `overwrite`"
        )
    raise PreimageError(
        f"the training diverged: mean loss {value:.4g} at {where}, above {bound:g}; stopped ({kept}) — "
        "lower `lr` or lengthen `warmup_steps`, then `resume` or `overwrite`"
    )


class StopSignals:
    """SIGINT/SIGTERM set a flag instead of killing the process, so the loop can checkpoint and stop."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signum = signum

    @contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Catch the signals inside the block (main thread only; elsewhere signals keep their handlers)."""
        try:
            old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    def stop(self, run: Path) -> None:
        """Raise :class:`RunInterrupted` (exit 130 for SIGINT, 143 for SIGTERM) once the checkpoint is written."""
        assert self.signum is not None
        name = signal.Signals(self.signum).name
        raise RunInterrupted(
            f"{name}: checkpoint written to {run / 'checkpoint.pt'}; continue with the same command and --resume",
            128 + self.signum,
        )


def training_threads(asked: int | None, saved: int | None, device: str = "cpu") -> int:
    """Torch threads of a training run: ``asked`` (``--threads``), else the resumed run's own count, else every
    core this process may use. Never the load-dependent default of other commands: sums in another order give
    other weights, so the same command on the same machine must use the same count."""
    from preimage.runtime import available_cores

    threads = asked or saved or available_cores()
    if asked and saved and asked != saved:
        warnings.warn(
            f"`threads={asked}`: the run was started with {saved} threads; its weights will not match an "
            "uninterrupted run's bit for bit (sums in another order)",
            stacklevel=2,
        )
    torch.set_num_threads(threads)
    return threads
