"""Train ``alexnet64`` or ``vgg19_64`` on Tiny-ImageNet-200 on a CPU: seeded, resumable, logged.

The whole training set is decoded once into a uint8 tensor (1.2 GB), so a
2-core machine spends its time in the network, not in JPEG decoding.
Augmentation: 4-pixel reflect-pad random crops and horizontal flips, drawn
from a generator seeded by (seed, epoch, step), so a resumed run sees exactly
the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from preimage import options as check
from preimage import zoo
from preimage.data import materialize
from preimage.errors import PreimageError
from preimage.files import dumps, file_sha256, write_json, write_text
from preimage.models import AlexNet64, fold_batchnorm, get_config, load_state_dict_file
from preimage.models.alexnet64 import FC_WIDTH
from preimage.models.registry import features_source
from preimage.models.vgg import VGG19_64_FC, VGG19_64_WIDTHS, vgg19_64_net
from preimage.options import option
from preimage.runtime import resolve_amp
from preimage.training.common import (
    CHECKPOINT_NAME,
    MetricsLog,
    Progress,
    RunConfig,
    RunPaths,
    StopSignals,
    check_finite,
    check_resume_config,
    export_safetensors,
    load_checkpoint,
    load_training_state,
    prepare_run,
    save_training_state,
    seed_everything,
    training_threads,
)

# the networks train-classifier knows: their train-time form (batch norm after every convolution) and the
# plain, shipped form whose keys the folded train-time form has
TRAINABLE: dict[str, tuple[Callable[..., torch.nn.Module], Callable[..., torch.nn.Module]]] = {
    "alexnet64": (lambda **kw: AlexNet64(batchnorm=True, **kw), AlexNet64),
    "vgg19_64": (lambda **kw: vgg19_64_net(batchnorm=True, **kw), vgg19_64_net),
}

_ARCHITECTURE = {
    "alexnet64": """5 conv (64-128-192-192-128, conv1 5x5 stride 2) + 3 fully connected ({fc}-{fc}-200),
  ReLU, max-pooling""",
    "vgg19_64": f"""the VGG-19 layer structure: 16 conv 3x3 in blocks of 2-2-4-4-4 at widths
  {"-".join(map(str, VGG19_64_WIDTHS))}, ReLU, 2x2 *average* pooling (as Xia et al. and Gatys et al. ran VGG-19),
  aliases relu1_1 .. relu5_4, then 3 fully connected ({VGG19_64_FC}-{VGG19_64_FC}-200, dropout 0.3)""",
}
_TITLE = {
    "alexnet64": "AlexNet for 64x64 images",
    "vgg19_64": "VGG-19 structure with average pooling for 64x64 images",
}


@dataclass(kw_only=True)
class ClassifierConfig(RunConfig):
    """The settings of ``train-classifier``: one field per option (see :mod:`preimage.options`)."""

    model: str = option(
        "alexnet64",
        "network to train; vgg19_64 is the VGG-19 structure of Xia et al. at 64 px",
        choices=tuple(TRAINABLE),
    )
    epochs: int = 18
    batch_size: int = 128
    lr: float = 0.1
    limit_val: int | None = None
    momentum: float = option(0.9, "SGD (Nesterov) momentum", parse=check.probability)
    weight_decay: float = option(
        5e-4, "SGD weight decay (L2) of the weights, not biases", parse=check.non_negative_float
    )
    label_smoothing: float = option(
        0.0,
        "cross-entropy label smoothing (0: plain cross-entropy, as the paper's AlexNet; smoothing flattens the small "
        "class probabilities that the prob and fc8 decoders read)",
        parse=check.non_negative_float,
    )
    warmup_epochs: float = option(1.0, "linear learning-rate warm-up, in epochs", parse=check.non_negative_float)
    fc_width: int | None = option(
        None,
        "alexnet64: width of fc6 and fc7 (default: the shipped network's; the paper's AlexNet has 4096)",
        parse=check.int_range(1),
    )
    frozen_features: str | None = option(
        None,
        "train only the fully connected layers, on the convolutions of this network file (.safetensors of the "
        "same model), kept fixed: its conv codes, and every decoder of them, stay valid",
        metavar="FILE",
    )


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def augment(batch: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` -> float ``[0, 1]``, random reflect-padded crops and flips (see
    :func:`augment_with_flips`)."""
    return augment_with_flips(batch, gen, pad)[0]


def augment_with_flips(batch: torch.Tensor, gen: torch.Generator, pad: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(B, 3, H, W)`` -> (float ``[0, 1]`` images, which were mirrored ``(B,)`` bool): random
    reflect-padded crops and flips.

    The random draws come from ``gen`` (a CPU generator) whatever the batch's device, so a seed gives the
    same crops on a CPU and a GPU. On a GPU the crops are one gather (a loop would launch kernels per
    image); on a CPU the loop of slice copies is faster than the gather.
    """
    x = batch.float().div_(255.0)
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    offs = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen)
    flips = torch.rand(b, generator=gen) < 0.5
    if x.device.type != "cpu":
        return crops_by_gather(padded, offs, flips, h, w), flips
    out = torch.empty_like(x)
    for i in range(b):
        dy, dx = int(offs[i, 0]), int(offs[i, 1])
        crop = padded[i, :, dy : dy + h, dx : dx + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out, flips


def crops_by_gather(padded: torch.Tensor, offs: torch.Tensor, flips: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``padded[i, :, dy:dy+h, dx:dx+w]`` (mirrored where ``flips[i]``) for every image, as one gather.

    Shape:
        - padded: :math:`(B, C, H', W')`; offs: :math:`(B, 2)` (dy, dx); flips: :math:`(B,)`.
        - Output: :math:`(B, C, h, w)`.
    """
    b, c = padded.shape[:2]
    dev = padded.device
    cols = torch.arange(w).expand(b, w)
    cols = (torch.where(flips[:, None], cols.flip(-1), cols) + offs[:, 1:2]).to(dev)
    rows = (torch.arange(h).expand(b, h) + offs[:, 0:1]).to(dev)
    img = torch.arange(b, device=dev)[:, None, None, None]
    chan = torch.arange(c, device=dev)[None, :, None, None]
    return padded[img, chan, rows[:, None, :, None], cols[:, None, None, :]]


@torch.no_grad()
def evaluate_classifier(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 500,
) -> dict[str, float]:
    """Top-1/top-5 accuracy (in %) on uint8 images ``(N, 3, H, W)``."""
    model.eval()
    top1 = top5 = 0
    for i in range(0, len(images), batch_size):
        x = normalize(images[i : i + batch_size].float() / 255.0, mean, std)
        logits = model(x)
        y = labels[i : i + batch_size]
        best5 = logits.topk(5, dim=1).indices
        top1 += int((best5[:, 0] == y).sum())
        top5 += int((best5 == y[:, None]).any(dim=1).sum())
    n = len(images)
    return {"top1": 100.0 * top1 / n, "top5": 100.0 * top5 / n, "n": n}


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * peak * (1.0 + math.cos(math.pi * progress))


@dataclass
class ClassifierRun(RunPaths):
    """What the stages of one classifier training run share."""

    cfg: ClassifierConfig
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    progress: Progress
    log: MetricsLog
    signals: StopSignals = field(default_factory=StopSignals)


@dataclass
class ClassifierMeter:
    """One epoch's running sums (a run resumed mid-epoch starts from those its checkpoint saved) and clock."""

    loss: float
    correct: int
    seen: int
    seen_before: int  # images before this process started: not part of its speed
    started: float = field(default_factory=time.time)
    last: float = field(default_factory=time.time)  # when the run's wall time was last brought up to date

    @classmethod
    def resume(cls, sums: dict[str, float]) -> ClassifierMeter:
        seen = int(sums.get("seen", 0))
        return cls(float(sums.get("loss", 0.0)), int(sums.get("correct", 0)), seen, seen)

    def running(self) -> dict[str, float]:
        """The sums a mid-epoch checkpoint saves."""
        return {"loss": self.loss, "correct": self.correct, "seen": self.seen}

    def images_per_s(self) -> float:
        return (self.seen - self.seen_before) / max(time.time() - self.started, 1e-9)


def train_classifier(
    cfg: ClassifierConfig, resume: bool = False, overwrite: bool = False, strict: bool = False
) -> dict[str, Any]:
    """Train (or resume) and export ``<model>.safetensors`` + a model card into ``cfg.out``."""
    run = build_run(settle_settings(cfg, resume, overwrite), resume, strict)
    progress = run.progress
    with run.signals.installed():
        while progress.epoch < run.cfg.epochs:
            finish_epoch(run, train_epoch(run))
            stop = run.cfg.stop_after_epochs
            if stop is not None and stop <= progress.epoch < run.cfg.epochs:
                print(f"stopping after epoch {progress.epoch} as asked; continue with --resume", flush=True)
                return {"stopped_at_epoch": progress.epoch, "history": progress.history}
        return export_classifier(run.model, run.folder, run.cfg, progress.history, run.val_x, run.val_y)


def settle_settings(cfg: ClassifierConfig, resume: bool, overwrite: bool) -> ClassifierConfig:
    """The run's final settings (model, precision, threads), checked against the checkpoint being resumed,
    and its folder prepared: before the data is decoded."""
    if cfg.model not in TRAINABLE:
        from preimage.errors import unknown_name

        raise unknown_name("trainable model", cfg.model, TRAINABLE)
    cfg = replace(cfg, amp=resolve_amp(cfg.amp))  # "auto": bf16 only on a CPU that has it natively
    folder = Path(cfg.out)
    prepare_run(folder, resume, overwrite)
    saved = load_checkpoint(folder / CHECKPOINT_NAME).get("config", {}) if resume else {}
    cfg = replace(cfg, threads=training_threads(cfg.threads, saved.get("threads")))
    if resume:
        check_resume_config(saved, asdict(cfg), folder / CHECKPOINT_NAME)
    folder.mkdir(parents=True, exist_ok=True)
    return cfg


def build_run(cfg: ClassifierConfig, resume: bool, strict: bool) -> ClassifierRun:
    """Data, network (weight decay on weights, not on biases and norms), optimiser, the resumed progress, log."""
    seed_everything(cfg.seed)
    root = Path(cfg.data)
    model = build_network(cfg)  # before the data: a wrong --frozen-features file fails at once
    train_x, train_y = materialize(str(root / cfg.train_pattern), 64, "center", cfg.limit_train, cfg.cache_dir, strict)
    val_x, val_y = materialize(str(root / cfg.val_pattern), 64, "center", cfg.limit_val, cfg.cache_dir, strict)
    trained = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trained if p.ndim > 1]
    no_decay = [p for p in trained if p.ndim <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=True,
    )
    checkpoint = Path(cfg.out) / CHECKPOINT_NAME
    progress = load_training_state(checkpoint, model, opt, asdict(cfg)) if resume else Progress()
    write_json(Path(cfg.out) / "config.json", asdict(cfg))
    log = MetricsLog(cfg.out)
    log.catch_up(progress.history)
    return ClassifierRun(cfg, model, opt, train_x, train_y, val_x, val_y, progress, log)


def network_options(cfg: ClassifierConfig) -> dict[str, Any]:
    """The keyword arguments of the network's constructors that the settings give."""
    if cfg.fc_width is None:
        return {}
    if cfg.model != "alexnet64":
        raise PreimageError(f"--fc-width applies to alexnet64, not {cfg.model} — drop it")
    return {"fc_width": cfg.fc_width}


def build_network(cfg: ClassifierConfig) -> torch.nn.Module:
    """The network to train: its train-time form (batch norm after every convolution) or, with
    ``frozen_features``, its plain form whose convolutions are that file's and stay fixed."""
    train_form, plain_form = TRAINABLE[cfg.model]
    if cfg.frozen_features is None:
        return train_form(**network_options(cfg))
    model = plain_form(**network_options(cfg))
    expected = {k: v.shape for k, v in model.state_dict().items() if k.startswith("features.")}
    given = {k: v for k, v in load_state_dict_file(cfg.frozen_features).items() if k.startswith("features.")}
    if {k: v.shape for k, v in given.items()} != expected:
        raise PreimageError(
            f"{cfg.frozen_features}: its convolutions are not a plain {cfg.model}'s — pass a {cfg.model} file "
            "that train-classifier exported (batch norm folded)"
        )
    model.load_state_dict(given, strict=False)
    model.features.requires_grad_(False)
    return model


def save_checkpoint(run: ClassifierRun, step_in_epoch: int, meter: ClassifierMeter | None = None) -> None:
    """The run's state at ``step_in_epoch`` of its current epoch (0: the epoch's start)."""
    p = run.progress
    running = meter.running() if step_in_epoch and meter is not None else {}
    state = Progress(p.epoch, step_in_epoch, p.wall, p.history, running)
    save_training_state(run.checkpoint, run.model, run.opt, state, asdict(run.cfg))


def train_step(run: ClassifierRun, meter: ClassifierMeter, order: torch.Tensor, step: int) -> torch.Tensor:
    """One SGD step on batch ``step`` of the epoch; returns the logits and adds the loss to ``meter``."""
    cfg, mcfg = run.cfg, get_config(run.cfg.model)
    gstep = run.progress.epoch * run.steps_per_epoch + step
    total = run.steps_per_epoch * cfg.epochs
    for group in run.opt.param_groups:
        group["lr"] = _lr_at(gstep, total, int(cfg.warmup_epochs * run.steps_per_epoch), cfg.lr)
    idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
    gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + gstep)
    # dropout draws from the global generator: seed it per step so a resumed run matches exactly
    torch.manual_seed(cfg.seed * 7_000_003 + gstep)
    x = normalize(augment(run.train_x[idx], gen), mcfg.mean, mcfg.std)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.amp == "bf16"):
        logits = run.model(x)
    loss = F.cross_entropy(logits.float(), run.train_y[idx], label_smoothing=cfg.label_smoothing)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    meter.loss += float(loss.detach()) * len(idx)
    check_finite(meter.loss, f"epoch {run.progress.epoch + 1} step {step + 1}", run.checkpoint)
    return logits


def train_epoch(run: ClassifierRun) -> ClassifierMeter:
    """One pass over the training images from where the run stands; checkpoints on schedule and on a signal."""
    cfg, progress = run.cfg, run.progress
    run.model.train()
    order = torch.randperm(len(run.train_x), generator=torch.Generator().manual_seed(cfg.seed * 1000 + progress.epoch))
    meter = ClassifierMeter.resume(progress.sums if progress.step_in_epoch else {})
    progress.sums = {}
    bar = tqdm(
        range(progress.step_in_epoch, run.steps_per_epoch),
        desc=f"epoch {progress.epoch + 1}/{cfg.epochs}",
        unit="batch",
        mininterval=1.0 if sys.stderr.isatty() else 60.0,
        file=sys.stderr,
    )
    for step in bar:
        logits = train_step(run, meter, order, step)
        y = run.train_y[order[step * cfg.batch_size : (step + 1) * cfg.batch_size]]
        meter.correct += int((logits.argmax(1) == y).sum())
        meter.seen += len(y)
        if run.signals.signum is not None:  # the sums saved include this step, where the resumed run starts
            progress.wall += time.time() - meter.last
            save_checkpoint(run, step + 1, meter)
            run.signals.stop(run.folder)
        bar.set_postfix(
            loss=f"{meter.loss / meter.seen:.3f}",
            acc=f"{100 * meter.correct / meter.seen:.1f}",
            img_s=f"{meter.images_per_s():.0f}",
            refresh=False,
        )
        if time.time() - meter.last > cfg.checkpoint_every_s:
            progress.wall += time.time() - meter.last
            meter.last = time.time()
            save_checkpoint(run, step + 1, meter)
    progress.wall += time.time() - meter.last
    return meter


def finish_epoch(run: ClassifierRun, meter: ClassifierMeter) -> None:
    """Validate, checkpoint the epoch's end and log its row."""
    mcfg, progress = get_config(run.cfg.model), run.progress
    metrics = evaluate_classifier(run.model, run.val_x, run.val_y, mcfg.mean, mcfg.std)
    row = {
        "epoch": progress.epoch + 1,
        "train_loss": meter.loss / max(meter.seen, 1),
        "train_acc": 100 * meter.correct / max(meter.seen, 1),
        "val_top1": metrics["top1"],
        "val_top5": metrics["top5"],
        "lr": run.opt.param_groups[0]["lr"],
        "wall_s": round(progress.wall, 1),
        "img_per_s": meter.images_per_s(),
    }
    progress.history.append(row)
    progress.epoch, progress.step_in_epoch = progress.epoch + 1, 0
    save_checkpoint(run, 0)  # before the log: a kill between the two leaves a row the next start logs
    run.log.log(row)
    print(dumps(row), flush=True)


def schedule_restarts(history: list[dict[str, Any]]) -> list[int]:
    """Epochs whose learning rate rose above the previous epoch's: where a run resumed with a larger
    ``--epochs`` stretched its cosine from the current step (a warm restart)."""
    return [h["epoch"] for prev, h in itertools.pairwise(history) if h["lr"] > prev["lr"] * (1 + 1e-6)]


def _restart_note(history: list[dict[str, Any]]) -> str:
    restarts = schedule_restarts(history)
    if not restarts:
        return ""
    at = ", ".join(str(e) for e in restarts)
    return f" (resumed with a larger --epochs: the cosine was stretched from there, a warm restart at epoch {at})"


def _first_epochs(history: list[dict[str, Any]], epochs: int) -> int:
    restarts = schedule_restarts(history)
    return restarts[0] - 1 if restarts else epochs


def _lengthened(history: list[dict[str, Any]], epochs: int) -> str:
    return f", then the same command with `--resume --epochs {epochs}`" if schedule_restarts(history) else ""


def _head_flags(cfg: ClassifierConfig) -> str:
    flags = f" --lr {cfg.lr:g}" if cfg.lr != ClassifierConfig.lr else ""
    flags += f" --fc-width {cfg.fc_width}" if cfg.fc_width is not None else ""
    return flags + (f" --frozen-features {cfg.frozen_features}" if cfg.frozen_features else "")


def _features_metadata(cfg: ClassifierConfig) -> dict[str, str]:
    """Where frozen convolutions came from (their first source, along a chain of frozen copies)."""
    if cfg.frozen_features is None:
        return {}
    return {"features_sha256": features_source(cfg.frozen_features) or file_sha256(cfg.frozen_features)}


def _convolutions_note(cfg: ClassifierConfig) -> str:
    if cfg.frozen_features is None:
        return "trained with batch norm after every convolution, shipped with it folded into the convolutions."
    return (
        f"the convolutions are those of `{Path(cfg.frozen_features).name}` (their source's SHA-256 "
        f"`{_features_metadata(cfg)['features_sha256']}`), kept fixed: only the fully connected layers were "
        "trained, so that network's conv codes, and the decoders of them, hold for this one."
    )


def _smoothing_flag(cfg: ClassifierConfig) -> str:
    return f" --label-smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else ""


def export_classifier(
    model: torch.nn.Module,
    run: Path,
    cfg: ClassifierConfig,
    history: list[dict[str, Any]],
    val_x: torch.Tensor,
    val_y: torch.Tensor,
) -> dict[str, Any]:
    """Fold batch norm, write fp16 safetensors, re-measure the *shipped* weights, write the card."""
    name = cfg.model
    mcfg = get_config(name)
    model.eval()
    fold_batchnorm(model)
    path = export_safetensors(
        model.state_dict(),
        run / zoo.file_name("network", name),
        fp16=True,
        metadata={"arch": name, "data": "tiny-imagenet-200", **_features_metadata(cfg)},
    )
    shipped = TRAINABLE[name][1](**network_options(cfg)).eval()
    from safetensors.torch import load_file

    shipped.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    final = evaluate_classifier(shipped, val_x, val_y, mcfg.mean, mcfg.std)
    wall_min = history[-1]["wall_s"] / 60 if history else 0.0
    summary = {
        "val_top1": final["top1"],
        "val_top5": final["top5"],
        "n_val": final["n"],
        "epochs": len(history),
        "wall_min": round(wall_min, 1),
        "weights": str(path),
        "size_mb": round(path.stat().st_size / 2**20, 2),
    }
    write_json(run / "summary.json", summary)
    write_json(run / f"{name}.json", summary)
    classes = Path(cfg.data) / "classes.tsv"
    if classes.is_file():  # label<TAB>wnid<TAB>names -> the zoo's label<TAB>names
        rows = [line.split("\t") for line in classes.read_text().splitlines() if line]
        write_text(run / f"{name}_classes.tsv", "".join(f"{r[0]}\t{r[-1]}\n" for r in rows))
    restarts, first_epochs = _restart_note(history), _first_epochs(history, cfg.epochs)
    lengthened = _lengthened(history, cfg.epochs)
    card = f"""# {name} — {_TITLE[name]}, trained on Tiny-ImageNet-200

- **Architecture**: {_ARCHITECTURE[name].format(fc=cfg.fc_width or FC_WIDTH)};
  {_convolutions_note(cfg)}
  {sum(p.numel() for p in shipped.parameters()) / 1e6:.2f}M parameters,
  fp16 safetensors ({summary["size_mb"]} MB).
- **Data**: Tiny-ImageNet-200 train (100,000 images, 200 classes), 64x64; ImageNet non-commercial
  research terms apply to these weights.
- **Training**: {len(history)} epochs, SGD (Nesterov, momentum {cfg.momentum}), peak lr {cfg.lr}, batch
  {cfg.batch_size}, {cfg.warmup_epochs:g} warm-up epoch then cosine decay{restarts},
  weight decay {cfg.weight_decay},
  label smoothing {cfg.label_smoothing:g}, reflect-pad-4 random crops + horizontal flips (no colour
  augmentation), bf16 autocast
  ({cfg.amp}), seed {cfg.seed}.
- **Wall time**: {summary["wall_min"]} min on a 2-core CPU.
- **Metrics** (the shipped fp16 weights, Tiny-ImageNet val, {final["n"]} images, centre 64x64):
  top-1 **{final["top1"]:.2f}%**, top-5 **{final["top5"]:.2f}%**.
- **Reproduce**: `preimage train-classifier --model {name} --data ../shared/data/tiny-imagenet-200
  --epochs {first_epochs} --seed {cfg.seed}{_smoothing_flag(cfg)}{_head_flags(cfg)}
  -o runs/{name}`{lengthened}; measure: `preimage evaluate-classifier {name}
  --data ../shared/data/tiny-imagenet-200/val-0000.tar.gz`.
"""
    write_text(run / f"{name}.md", card)
    print(dumps(summary), flush=True)
    return summary
