"""Train an up-convolutional decoder for one representation (Dosovitskiy & Brox): seeded, resumable, DDP.

Images come from the decoded uint8 training set (random reflect-pad crops and
flips); codes are computed on the fly — in the main process for the fast torch
representations (HOG, LBP, CNN taps), in DataLoader workers for SIFT. Loss:
pixel MSE in ``[0, 1]``. Validation: the normalised reconstruction error on a
fixed slice of the validation set.

Devices: ``device="auto"`` trains on a GPU when there is one (the uint8
training set, the augmentation, the torch representations and the decoder all
live there; SIFT codes still come from CPU workers), else on the CPU. The
random draws are the same on both, so a seed names the same batches.

Multi-process: run under ``torchrun --nproc-per-node N`` (gloo on CPU, nccl on
GPU, one GPU per process). Every rank takes an equal slice of each global batch
and DDP averages the gradients, which is the single-process step on the whole batch.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from preimage import options as check
from preimage import zoo
from preimage.data import materialize
from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.files import dumps, write_json, write_text
from preimage.inverters.decoders import UPSAMPLINGS, Decoder, DecoderArch
from preimage.metrics import protocol_errors
from preimage.options import field_flag, option
from preimage.representations import canonical_name, create_representation
from preimage.representations.base import Representation
from preimage.representations.cnn import LayerTap
from preimage.runtime import resolve_amp
from preimage.training.classifier import augment, augment_with_flips
from preimage.training.code_store import CodeStore, DenseCodePairs, MirroredCodes, SparseCodePairs
from preimage.training.code_store import cache_file as code_cache_file
from preimage.training.common import (
    CHECKPOINT_NAME,
    CodeConfig,
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
from preimage.training.deepsim import (
    COMPARATOR,
    COMPARATORS,
    DISCRIMINATORS,
    LOWPASS_SIGMA,
    TEXTURE_LAYERS,
    DeepsimConfig,
    DeepsimObjective,
    deepsim_step,
    parse_weights,
)

# A mean pixel MSE above this stops the run: against targets in [0, 1] a converging decoder stays far below it
# (even a flat gray guess scores under 0.25), so a larger one is divergence, which can stay finite and would
# pass a NaN check
DIVERGED_MSE = 1.0


LOSSES = ("mse", "deepsim")


@dataclass(kw_only=True)
class DecoderConfig(RunConfig, CodeConfig):
    """The settings of ``train-decoder``: one field per option (see :mod:`preimage.options`)."""

    # more training photos of other sources (a shard pattern, e.g. the Tiny-ImageNet shards beside Imagenette's),
    # resized to --size like the rest: a sharp decoder of 10 classes learns those classes' textures, and other
    # classes' photos teach it the rest; validation stays on --data's val shards. They are held in memory as uint8 like
    # the rest: 38,000 photos of 224 px take 5.7 GB, twice that while they are stacked
    extra_train: str | None = option(
        None,
        "more training images: shards, a brace pattern or a folder (e.g. "
        "'../shared/data/tiny-imagenet-200/train-000{0..3}.tar.gz'), resized to --size",
        metavar="SPEC",
    )
    # the architecture (see preimage.inverters.decoders.DecoderArch)
    width: int = option(32, "decoder width knob (channels of the finest stage x 2)", parse=check.positive)
    hidden: int = option(512, "fully connected width of vector (fc/prob) decoders", parse=check.positive)
    blocks: int = option(0, "residual blocks at the code resolution (spatial codes)", parse=check.non_negative)
    top: int = option(0, "channels at the code resolution (0: 4 x width)", parse=check.non_negative)
    stage_blocks: int = option(
        0,
        "residual blocks after each expansion stage below the output size (grows an --init-decoder)",
        parse=check.non_negative,
    )
    shuffle: int = option(
        1,
        "do the last doublings (a power of 2) as one sub-pixel convolution: a faster decoder (1: up-convolutions "
        "all the way)",
        parse=check.positive,
    )
    upsample: str = option(
        "transposed",
        "how the decoder doubles its maps: transposed convolutions (the paper's up-convolutions) or bilinear "
        "resize then a 3x3 convolution, which has no per-cell kernel footprint to repeat as a grid in flat regions",
        choices=UPSAMPLINGS,
    )
    min_lr: float = option(1e-5, "learning rate at the end of the cosine decay", parse=check.non_negative_float)
    warmup_steps: int = option(200, "linear learning-rate warm-up, in steps", parse=check.non_negative)
    ema: float = option(
        0.0,
        "average the weights with this decay in [0, 1), e.g. 0.999 (0: off); validated and shipped",
        parse=check.decay,
    )
    # random crops of the reflect-padded image (pixels a side); 0 = flips only, the test images' own framing
    # (a last fine-tune without crops stops spending capacity on mirrored borders no test image has)
    crop_pad: int = option(
        4, "random crops of the image reflect-padded by this many pixels (0: flips only)", parse=check.non_negative
    )
    # with codes stored once (--crop-pad 0): shift each image and its code together by whole code cells, vacated
    # cells empty and vacated pixels out of the loss: translations for features too slow to recompute per crop
    # (SIFT at 224 px), so a decoder of 8,000 photos stops memorising their framing
    shift_cells: int = option(
        0,
        "with --crop-pad 0: shift image and stored code together by up to this many code cells",
        parse=check.non_negative,
    )
    patience: int = option(
        0,
        "stop once the validation error has not improved for this many epochs (0: run every epoch)",
        parse=check.non_negative,
    )
    finetune_encoder: bool = option(False, "autoencoder bound: train the CNN encoder too")
    encoder_lr: float = option(1e-4, "peak learning rate of a fine-tuned encoder", parse=check.positive_float)
    init_decoder: str | None = option(None, "start from these decoder weights (.safetensors)")
    # distillation: the teachers' mean output replaces the image as the pixel target (a lower-variance estimate of
    # E[x | Phi(x)] than the image itself); validation, and DeePSiM's comparator and discriminator, stay on images
    teachers: tuple[str, ...] = option(
        (),
        "distil: train towards the mean output of these trained decoders (repeatable) instead of the images "
        "(with loss=deepsim: the pixel terms' target)",
        flags=("--teacher",),
    )
    teacher_flip_average: bool = option(False, "teachers average with their mirrored decoding (HOG, LBP)")
    loss: str = option(
        "mse",
        "mse: pixel MSE, the paper's E[x | Phi(x)] (blurred where the code is ambiguous); deepsim: comparator "
        "features (alexnet64 conv5) + adversarial + pixels (Dosovitskiy & Brox 2016b), sharp; exports the 'sharp' "
        "variant",
        choices=LOSSES,
    )
    deepsim_weights: str = option(
        "33,100,0.13",
        "DeePSiM's loss weights for [0, 1] images (the paper's Caffe values re-derived; see preimage.training.deepsim)"
        "; an optional fourth, LOW, weighs the pixel error blurred by a Gaussian of sigma 2 px (colour and layout; "
        "default 0)",
        metavar="FEAT,ADV,IMG[,LOW]",
    )
    deepsim_conditional: bool = option(False, "the discriminator also sees the code")
    deepsim_comparator: str = option(
        COMPARATOR, "the network layer whose features the DeePSiM feature term compares", choices=COMPARATORS
    )
    deepsim_r1: float = option(
        0.0,
        "weight of the R1 penalty on the discriminator's gradient at the photos (Mescheder et al. 2018; 0: none, "
        "as the paper)",
        parse=check.non_negative_float,
    )
    deepsim_discriminator: str = option(
        "global",
        "global: the discriminator gives one logit per image (the paper's); patch: one per 22-px patch "
        "(pix2pix's PatchGAN), a critic of local texture and edges",
        choices=DISCRIMINATORS,
    )
    deepsim_texture: float = option(
        0.0,
        "weight of a texture term: the distance between the Gram matrices of alexnet64 conv1 and conv2 on "
        "reconstruction and photo (Gatys et al. 2015; 0: none, as the paper)",
        parse=check.non_negative_float,
    )
    workers: int = option(2, "DataLoader processes computing SIFT codes", parse=check.non_negative)
    device: str = option("auto", "auto (a GPU when there is one), cpu, cuda or cuda:N")

    def architecture(self, code_shape: tuple[int, ...]) -> DecoderArch:
        """The decoder these settings build for codes of ``code_shape``."""
        return DecoderArch(
            self.rep,
            code_shape,
            self.output_size or self.input_size,
            self.width,
            self.hidden,
            self.blocks,
            self.top,
            self.stage_blocks,
            self.shuffle,
            self.input_size,
            self.upsample,
        )


def _dist() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device | None = None) -> tuple[int, int]:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); gloo on CPU, nccl on GPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        gpu = device.type == "cuda" if device is not None else torch.cuda.is_available()
        dist.init_process_group("nccl" if gpu else "gloo")
    return _dist()


def resolve_device(name: str) -> torch.device:
    """``auto`` -> this process's GPU (``LOCAL_RANK`` under torchrun) when CUDA is there, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise PreimageError(f"unknown device {name!r} — use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise PreimageError(f"`device={name}`: this machine has no CUDA GPU — use `device=cpu`")
        count, world = torch.cuda.device_count(), int(os.environ.get("WORLD_SIZE", "1"))
        if device.index is not None and world > 1:
            raise PreimageError(
                f"`device={name}` would put all {world} processes on one GPU — pass `device=cuda` "
                "(each process takes the GPU of its LOCAL_RANK)"
            )
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if device.index >= count:
            raise PreimageError(
                f"`device={name}`: GPU {device.index} asked for, this machine has {count} — "
                "start fewer processes (torchrun --nproc-per-node) or pass `device=cpu`"
            )
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise PreimageError(f"`device={name}`: training runs on cpu or cuda")
    return device


def make_objective(cfg: DecoderConfig, code_shape: tuple[int, ...], world: int) -> DeepsimObjective | None:
    """The DeePSiM objective of ``--loss deepsim`` (None for pixel MSE), checked against the other options."""
    if cfg.loss not in LOSSES:
        raise PreimageError(f"`loss={cfg.loss}`: use one of {', '.join(LOSSES)}")
    if cfg.loss == "mse":
        shaped = cfg.deepsim_r1 or cfg.deepsim_texture or cfg.deepsim_comparator != COMPARATOR
        if shaped or cfg.deepsim_discriminator != DISCRIMINATORS[0]:
            raise PreimageError(
                "`deepsim_r1`, `deepsim_texture`, `deepsim_comparator` and `deepsim_discriminator` shape the DeePSiM "
                "loss: add `loss=deepsim`"
            )
        return None
    if world > 1 or cfg.finetune_encoder or cfg.shift_cells:
        raise PreimageError(
            "`loss=deepsim` trains a decoder of a fixed encoder in one process: drop torchrun, `finetune_encoder` "
            "and `shift_cells`"
        )
    feat, adv, img, low = parse_weights(cfg.deepsim_weights)
    if cfg.deepsim_discriminator not in DISCRIMINATORS:
        raise PreimageError(
            f"`deepsim_discriminator={cfg.deepsim_discriminator}`: use one of {', '.join(DISCRIMINATORS)}"
        )
    config = DeepsimConfig(
        feat,
        adv,
        img,
        low,
        conditional=cfg.deepsim_conditional,
        r1=cfg.deepsim_r1,
        patch=cfg.deepsim_discriminator == "patch",
        texture=cfg.deepsim_texture,
    )
    comparator = create_representation(cfg.deepsim_comparator, weights="default")
    return DeepsimObjective(comparator, config, code_features=math.prod(code_shape))


def make_encoder(rep_name: str, finetune: bool, weights: str = "default") -> Representation:
    if weights != "default" and ":" not in rep_name:
        raise PreimageError(f"`encoder_weights` fill a CNN (MODEL:LAYER); {rep_name!r} has none: drop them")
    rep = create_representation(rep_name, weights=weights)
    if finetune:
        if rep.kind != "cnn":
            raise PreimageError("`finetune_encoder` needs a CNN layer (MODEL:LAYER): HOG/LBP/SIFT have no weights")
        for p in rep.parameters():
            p.requires_grad_(True)
    return rep


class Pipeline(torch.nn.Module):
    """Image -> code -> reconstruction; the unit DDP wraps. The encoder only trains with ``finetune``; a
    DeePSiM ``objective`` (its discriminator) travels in the same checkpoints."""

    def __init__(
        self,
        rep: Representation,
        decoder: Decoder,
        finetune: bool,
        amp: bool,
        ema: float = 0.0,
        objective: DeepsimObjective | None = None,
    ) -> None:
        super().__init__()
        self.rep, self.decoder, self.finetune, self.amp = rep, decoder, finetune, amp
        self.deepsim = objective
        self.ema_decay = ema
        # the averaged copy lives in this module so checkpoints carry it; it never gets a gradient,
        # so DDP leaves it alone and every rank updates it identically from identical weights
        self.ema: Decoder | None = copy.deepcopy(decoder).requires_grad_(False) if ema else None

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        # one fused update for all tensors (a kernel launch per tensor would dominate a GPU step)
        torch._foreach_lerp_(
            list(self.ema.parameters()), [p.detach() for p in self.decoder.parameters()], 1.0 - self.ema_decay
        )

    def shipped_decoder(self) -> Decoder:
        """What validation measures and export writes: the averaged weights when ``ema`` is on."""
        return self.ema if self.ema is not None else self.decoder

    def forward(self, images: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstructions at the decoder's output size of ``images`` (or of their given ``codes``)."""
        if codes is None and self.finetune:
            codes = self.rep(images)
        elif codes is None:
            with torch.no_grad():
                codes = self.rep(images)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return self.decoder(codes).float()


Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def shift_with_code(
    x: torch.Tensor, codes: torch.Tensor, shifts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Translate images and their codes together by whole code cells; return what is left valid.

    A cell of a ``(C, h, w)`` code over an ``H x W`` image covers ``H/h x W/w`` pixels, so a shift of
    ``(dy, dx)`` cells moves the image ``(dy H/h, dx W/w)`` pixels: the cells that stay are exactly the
    codes of the pixels that stay. Vacated cells are empty (zero: no keypoint) and vacated pixels zero;
    ``valid`` marks the pixels that came from the image.

    Shape:
        - ``x``: :math:`(B, 3, H, W)`; ``codes``: :math:`(B, C, h, w)` with ``h | H``, ``w | W``;
          ``shifts``: :math:`(B, 2)` integer cells (down, right).
        - Output: ``x``, ``codes`` as given; ``valid``: :math:`(B, 1, H, W)` of 0/1.
    """
    (b, _, hh, ww), (h, w) = x.shape, codes.shape[-2:]
    if hh % h or ww % w or shifts.shape != (b, 2):
        raise PreimageError(f"cannot shift images {tuple(x.shape)} with codes {tuple(codes.shape)} by {shifts.shape}")
    ch, cw = hh // h, ww // w
    out_x, out_c = torch.zeros_like(x), torch.zeros_like(codes)
    valid = torch.zeros(b, 1, hh, ww, dtype=x.dtype, device=x.device)

    def span(d: int, n: int) -> tuple[slice, slice]:  # destination and source ranges of a shift by d
        return (slice(d, n), slice(0, n - d)) if d >= 0 else (slice(0, n + d), slice(-d, n))

    for i in range(b):
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        (ty, sy), (tx, sx) = span(dy, h), span(dx, w)
        out_c[i, :, ty, tx] = codes[i, :, sy, sx]
        (py, qy), (px, qx) = span(dy * ch, hh), span(dx * cw, ww)
        out_x[i, :, py, px] = x[i, :, qy, qx]
        valid[i, :, py, px] = 1
    return out_x, out_c, valid


class Batches(torch.utils.data.Dataset[Batch]):
    """Item ``step`` = this rank's slice of global batch ``step``: augmented images, (optionally) codes, and
    (with ``shift_cells``) the mask of pixels that count in the loss.

    Augmentation is seeded by the global step, so every rank, every resume and
    every worker count sees the same batches. With ``rep`` set, codes are
    computed here — in DataLoader workers for slow, non-torch features (SIFT).
    """

    def __init__(
        self,
        images: torch.Tensor,
        order: torch.Tensor,
        batch_size: int,
        first_step: int,
        seed: int,
        rank: int,
        world: int,
        rep: Representation | None,
        crop_pad: int = 4,
        codes: CodeStore | None = None,
        shift_cells: int = 0,
    ) -> None:
        self.images, self.order, self.batch_size, self.crop_pad = images, order, batch_size, crop_pad
        self.first_step, self.seed, self.rank, self.world, self.rep = first_step, seed, rank, world, rep
        self.codes = codes  # the codes of every training image and of its mirror image, computed once
        self.shift_cells = shift_cells

    def __len__(self) -> int:
        return len(self.order) // self.batch_size

    def __getitem__(self, step: int) -> Batch:
        idx = self.order[step * self.batch_size : (step + 1) * self.batch_size]
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.first_step + step)
        if self.codes is not None:
            # the same draws as the path below, so a seed names the same batches either way
            x, flips = augment_with_flips(self.images[idx], gen, 0)
            codes = self.codes.select(idx, flips)
            valid = None
            if self.shift_cells:  # drawn after the flips: shift 0 gives the batches of the flips-only path
                k = self.shift_cells
                x, codes, valid = shift_with_code(x, codes, torch.randint(-k, k + 1, (len(x), 2), generator=gen))
                valid = valid[self.rank :: self.world]
            return x[self.rank :: self.world], codes[self.rank :: self.world], valid
        # the same global augmentation on every rank
        x = augment(self.images[idx], gen, self.crop_pad)[self.rank :: self.world]
        if self.rep is None:
            return x, None, None
        with torch.no_grad():
            return x, self.rep(x), None


@torch.no_grad()
def evaluate_decoder(
    decoder: Decoder,
    rep: Representation,
    images: torch.Tensor,
    batch: int = 250,
    seed: int = 0,
    codes: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Normalised reconstruction error (mean, bootstrap 95% CI) on uint8 images ``(N, 3, S, S)``.

    At the decoder's output size against the images downsampled to it, and at the input size
    (:func:`preimage.metrics.protocol_errors`). Runs on the decoder's device (``rep`` must be there too);
    the error is computed on the CPU. ``codes``: the images' codes, when already computed (see
    :func:`slow_codes`).
    """
    decoder.eval()
    rep.eval()
    device = next(decoder.parameters()).device
    x = images.float() / 255.0

    def code(i: int) -> torch.Tensor:
        return rep(x[i : i + batch].to(device)) if codes is None else codes[i : i + batch].to(device)

    recon = torch.cat([decoder(code(i)).float().cpu() for i in range(0, len(x), batch)])
    return protocol_errors(x, recon, seed)


@torch.no_grad()
def slow_codes(rep: Representation, images: torch.Tensor, batch: int = 64) -> torch.Tensor | None:
    """The codes of uint8 ``images`` when ``rep`` is a slow, non-torch feature (SIFT: 40 s for 500 photos at
    224 px), so that each epoch's validation decodes them instead of recomputing them; else None."""
    if getattr(rep, "differentiable", True):
        return None
    return torch.cat([rep(images[i : i + batch].float() / 255.0) for i in range(0, len(images), batch)])


def _lr(step: int, total: int, peak: float, floor: float, warmup: int = 200) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t))


@dataclass
class DecoderRun(RunPaths):
    """What the stages of one training run share: its settings, models, data and where it stands."""

    cfg: DecoderConfig
    device: torch.device
    rank: int
    world: int
    rep: Representation
    module: Pipeline
    ddp: torch.nn.Module  # ``module``, wrapped for DDP when there are several processes
    opt: torch.optim.Optimizer
    teachers: list[Decoder]
    train_x: torch.Tensor
    val_x: torch.Tensor
    source: torch.Tensor  # the training images codes are computed from (on the device unless codes are slow)
    stored: CodeStore | None  # codes computed once (see precomputed_codes)
    slow: bool  # codes computed in DataLoader workers
    progress: Progress
    log: MetricsLog | None  # rank 0 only
    signals: StopSignals = field(default_factory=StopSignals)
    val_codes: torch.Tensor | None = None  # computed at the first validation, for slow features only

    @property
    def output_size(self) -> int:
        return self.cfg.output_size or self.cfg.input_size


@dataclass
class EpochMeter:
    """One epoch's running sums (a run resumed mid-epoch starts from those its checkpoint saved) and clock.

    The loss is summed on the device and read every few steps: a read per step would stall a GPU.
    """

    loss_sum: torch.Tensor
    seen: int  # images of this epoch so far
    seen_before: int  # images before this process started: not part of its speed
    gan: dict[str, float]  # sums of the DeePSiM terms
    started: float = field(default_factory=time.time)
    last: float = field(default_factory=time.time)  # when the run's wall time was last brought up to date

    @classmethod
    def resume(cls, sums: dict[str, float], device: torch.device) -> EpochMeter:
        seen = int(sums.get("seen", 0))
        loss_sum = torch.full((), float(sums.get("loss_sum", 0.0)), device=device)
        return cls(loss_sum, seen, seen, {k.removeprefix("gan_"): v for k, v in sums.items() if k.startswith("gan_")})

    def running(self) -> dict[str, float]:
        """The sums a mid-epoch checkpoint saves."""
        return {"loss_sum": float(self.loss_sum), "seen": self.seen, **{f"gan_{k}": v for k, v in self.gan.items()}}

    def mean_loss(self) -> torch.Tensor:
        return self.loss_sum / max(self.seen, 1)

    def images_per_s(self, world: int) -> float:
        return (self.seen - self.seen_before) * world / max(time.time() - self.started, 1e-9)


def train_decoder(
    cfg: DecoderConfig, resume: bool = False, overwrite: bool = False, strict: bool = False
) -> dict[str, Any]:
    """Train, validate each epoch, checkpoint and export a decoder (the summary of the shipped weights)."""
    cfg, device, rank, world = settle_settings(cfg, resume, overwrite)
    run = build_run(cfg, device, rank, world, resume, strict)
    progress = run.progress
    with run.signals.installed():
        while progress.epoch < cfg.epochs:
            finish_epoch(run, train_epoch(run))
            if plateaued(progress.history, cfg.patience):
                if rank == 0:
                    print(
                        f"validation error flat for {cfg.patience} epochs: stopping after epoch {progress.epoch}",
                        flush=True,
                    )
                break
            if cfg.stop_after_epochs is not None and cfg.stop_after_epochs <= progress.epoch < cfg.epochs:
                if rank == 0:
                    print(f"stopping after epoch {progress.epoch} as asked; continue with --resume", flush=True)
                return {"stopped_at_epoch": progress.epoch, "history": progress.history}
        if rank != 0:
            return {"rank": rank}
        return export_decoder(
            run.module.shipped_decoder(), run.rep, cfg, progress.history, strict, train_images=len(run.train_x)
        )


def check_settings(cfg: DecoderConfig, world: int) -> None:
    """The settings' own consistency, checked before anything is loaded."""
    if cfg.batch_size % world:
        raise PreimageError(f"`batch_size={cfg.batch_size}` must be divisible by the {world} processes")
    if not 0 <= cfg.crop_pad < cfg.input_size:
        raise PreimageError(f"`crop_pad={cfg.crop_pad}` must be in [0, {cfg.input_size - 1}] pixels (0 = flips only)")
    if cfg.shift_cells and (cfg.crop_pad or cfg.finetune_encoder or cfg.teachers):
        raise PreimageError(
            "`shift_cells` shifts codes stored once: use it with `crop_pad=0`, a fixed encoder and no `teachers`"
        )
    if (cfg.output_size or cfg.input_size) > cfg.input_size:
        raise PreimageError(
            f"`output_size={cfg.output_size}` is larger than `input_size={cfg.input_size}`: a decoder predicts the "
            "input image or a downsampled one; pass `output_size` <= `input_size`"
        )


def settle_settings(cfg: DecoderConfig, resume: bool, overwrite: bool) -> tuple[DecoderConfig, torch.device, int, int]:
    """The run's final settings (canonical names, device, precision, threads), checked against each other
    and against the checkpoint being resumed, and its folder prepared: before any model or data loads."""
    cfg = replace(cfg, rep=canonical_name(cfg.rep))  # one name per representation: decoders and teachers match
    device = resolve_device(cfg.device)
    cfg = replace(cfg, amp=resolve_amp(cfg.amp, device))  # "auto": bf16 only where it is native
    rank, world = init_distributed(device)
    seed_everything(cfg.seed)
    check_settings(cfg, world)
    folder = Path(cfg.out)
    if rank == 0:
        prepare_run(folder, resume, overwrite)
    saved = load_checkpoint(folder / CHECKPOINT_NAME).get("config", {}) if resume else {}
    cfg = replace(cfg, threads=training_threads(cfg.threads, saved.get("threads")))
    if rank == 0:
        if resume:  # differing settings are an error naming them, before minutes of data loading
            check_resume_config(saved, asdict(cfg), folder / CHECKPOINT_NAME)
        folder.mkdir(parents=True, exist_ok=True)
    return cfg, device, rank, world


def build_decoder(cfg: DecoderConfig, code_shape: tuple[int, ...], encoder_sha256: str | None, rank: int) -> Decoder:
    """A fresh decoder for ``code_shape``, or one started from ``cfg.init_decoder``'s weights."""
    decoder = Decoder(cfg.architecture(code_shape))
    if cfg.init_decoder:
        start = Decoder.from_file(cfg.init_decoder)
        copied = grow_from(decoder, start, cfg.init_decoder)
        if rank == 0 and copied < len(decoder.state_dict()):
            shared = matching_tensors(decoder, start)
            fresh = sorted({k.rsplit(".", 1)[0] for k in decoder.state_dict() if k not in shared})
            print(
                f"initialised {copied} of {len(decoder.state_dict())} tensors from {cfg.init_decoder}; "
                f"fresh: {', '.join(fresh)}",
                flush=True,
            )
    decoder.encoder_sha256 = encoder_sha256
    decoder.code_transform = cfg.code_transform
    return decoder


def build_models(
    cfg: DecoderConfig, device: torch.device, world: int, rank: int, resume: bool
) -> tuple[Representation, Pipeline, torch.optim.Optimizer]:
    """Encoder, decoder (and DeePSiM's discriminator) and their optimiser; each refusal is one line."""
    rep = make_encoder(cfg.rep, cfg.finetune_encoder, cfg.encoder_weights).to(device)
    if cfg.shift_cells and not stores_codes(cfg, rep):  # before minutes of data loading
        raise PreimageError(
            f"`shift_cells` needs codes stored once (hog, lbp, sift with `crop_pad=0`); {cfg.rep}'s are "
            "computed per batch: use `crop_pad` for its translations"
        )
    code_shape = tuple(rep.out_shape(cfg.input_size))
    start = cfg if not resume else replace(cfg, init_decoder=None)  # a resumed run has its own weights
    decoder = build_decoder(start, code_shape, getattr(rep, "weights_sha256", None), rank).to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    groups: list[dict[str, Any]] = [{"params": decoder.parameters(), "lr": cfg.lr, "peak": cfg.lr}]
    if cfg.finetune_encoder:
        tuned = [p for p in rep.parameters() if p.requires_grad]
        groups.append({"params": tuned, "lr": cfg.encoder_lr, "peak": cfg.encoder_lr})
    objective = make_objective(cfg, code_shape, world)
    if objective is not None:
        groups.append({"params": objective.discriminator.parameters(), "lr": cfg.lr, "peak": cfg.lr})
    module = Pipeline(rep, decoder, cfg.finetune_encoder, cfg.amp == "bf16", cfg.ema, objective).to(device)
    return rep, module, torch.optim.Adam(groups, betas=(0.9, 0.999))


def build_run(
    cfg: DecoderConfig, device: torch.device, rank: int, world: int, resume: bool, strict: bool
) -> DecoderRun:
    """Models, teachers, data (last: a bad model or device is a one-line error before minutes of JPEG
    decoding), the resumed progress, the log and the codes stored once."""
    rep, module, opt = build_models(cfg, device, world, rank, resume)
    teachers = load_teachers(cfg, tuple(rep.out_shape(cfg.input_size)), device)
    root = Path(cfg.data)
    train_x, _ = materialize(
        str(root / cfg.train_pattern), cfg.input_size, "center", cfg.limit_train, cfg.cache_dir, strict
    )
    if cfg.extra_train:
        extra_x, _ = materialize(cfg.extra_train, cfg.input_size, "center", None, cfg.cache_dir, strict)
        train_x = torch.cat([train_x, extra_x])
    val_x, _ = materialize(str(root / cfg.val_pattern), cfg.input_size, "center", cfg.limit_val, cfg.cache_dir, strict)
    checkpoint = Path(cfg.out) / CHECKPOINT_NAME
    progress = load_training_state(checkpoint, module, opt, asdict(cfg)) if resume else Progress()
    ddp: torch.nn.Module = module
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    log = MetricsLog(cfg.out) if rank == 0 else None
    if log is not None:
        write_json(Path(cfg.out) / "config.json", asdict(cfg))
        log.catch_up(progress.history)
    # non-differentiable, non-torch features (SIFT) are computed in worker processes
    slow = not getattr(rep, "differentiable", True) and rep.kind == "sift"
    # fast codes are computed where the decoder runs, so the images go there once (1.2 GB for Tiny-ImageNet)
    source = train_x if slow else train_x.to(device)
    stored = precomputed_codes(cfg, rep, source, rank)
    return DecoderRun(
        cfg,
        device,
        rank,
        world,
        rep,
        module,
        ddp,
        opt,
        teachers,
        train_x,
        val_x,
        source,
        stored,
        slow and stored is None,
        progress,
        log,
    )


def epoch_batches(run: DecoderRun) -> torch.utils.data.DataLoader[Batch]:
    """The batches of the current epoch from where it stands, in the seeded order every rank shares."""
    cfg, epoch = run.cfg, run.progress.epoch
    order = torch.randperm(len(run.train_x), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
    batches = Batches(
        run.source,
        order,
        cfg.batch_size,
        epoch * run.steps_per_epoch,
        cfg.seed,
        run.rank,
        run.world,
        run.rep if run.slow else None,
        cfg.crop_pad,
        run.stored,
        cfg.shift_cells,
    )
    return torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        num_workers=cfg.workers if run.slow else 0,
        sampler=list(range(run.progress.step_in_epoch, run.steps_per_epoch)),
        pin_memory=run.slow and run.device.type == "cuda",
    )


def train_step(
    run: DecoderRun,
    meter: EpochMeter,
    step: int,
    x: torch.Tensor,
    codes: torch.Tensor | None,
    valid: torch.Tensor | None,
) -> torch.Tensor:
    """One optimiser step at global ``step`` on a batch; returns its loss."""
    cfg, module = run.cfg, run.module
    x = x.to(run.device, non_blocking=True)
    codes = codes.to(run.device, non_blocking=True) if codes is not None else None
    total = run.steps_per_epoch * cfg.epochs
    for group in run.opt.param_groups:
        group["lr"] = _lr(step, total, group["peak"], cfg.min_lr * group["peak"] / cfg.lr, cfg.warmup_steps)
    # the paper's targets: the input downsampled to the output size (antialiased bilinear)
    target = x if run.output_size == cfg.input_size else resize(x, run.output_size)
    photo = target
    if run.teachers:
        with torch.no_grad():
            codes = run.rep(x) if codes is None else codes
            target = torch.stack([t(codes) for t in run.teachers]).mean(0)
    if module.deepsim is not None:
        d_codes = codes if codes is not None or not cfg.deepsim_conditional else run.rep(x).detach()
        anchor = target if run.teachers else None
        loss, parts = deepsim_step(module.deepsim, run.opt, run.ddp(x, codes), photo, d_codes, anchor)
        for key, value in parts.items():
            meter.gan[key] = meter.gan.get(key, 0.0) + value * len(x)
    else:
        if valid is None:
            loss = F.mse_loss(run.ddp(x, codes), target)
        else:  # shifted: only output pixels whose whole antialiasing footprint came from the image
            keep = (resize(valid.to(run.device), run.output_size) > 0.999).to(target.dtype)
            err = (run.ddp(x, codes).float() - target) ** 2 * keep
            loss = err.sum() / (keep.sum() * target.shape[1]).clamp(min=1)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
    module.update_ema()
    return loss.detach()


def save_checkpoint(run: DecoderRun, step_in_epoch: int, meter: EpochMeter | None = None) -> None:
    """The run's state at ``step_in_epoch`` of its current epoch (0: the epoch's start), from rank 0."""
    if run.rank != 0:
        return
    p = run.progress
    running = meter.running() if step_in_epoch and meter is not None else {}
    state = Progress(p.epoch, step_in_epoch, p.wall, p.history, running)
    save_training_state(run.checkpoint, run.module, run.opt, state, asdict(run.cfg))


def check_loss(run: DecoderRun, meter: EpochMeter, where: str) -> None:
    """The epoch's running mean: a NaN or a divergence stops the run before a checkpoint could save it."""
    check_finite(meter.mean_loss(), where, run.checkpoint, DIVERGED_MSE)


def train_epoch(run: DecoderRun) -> EpochMeter:
    """One pass over the training images from where the run stands; checkpoints on schedule and on a signal."""
    cfg, progress = run.cfg, run.progress
    run.module.decoder.train()
    loader = epoch_batches(run)
    meter = EpochMeter.resume(progress.sums if progress.step_in_epoch else {}, run.device)
    progress.sums = {}
    bar = tqdm(
        range(progress.step_in_epoch, run.steps_per_epoch),
        desc=f"{cfg.rep} epoch {progress.epoch + 1}/{cfg.epochs}",
        unit="batch",
        disable=run.rank != 0,
        mininterval=1.0 if sys.stderr.isatty() else 60.0,
    )
    for step, (x, codes, valid) in zip(bar, loader, strict=True):
        meter.loss_sum += train_step(run, meter, progress.epoch * run.steps_per_epoch + step, x, codes, valid) * len(x)
        meter.seen += len(x)
        where = f"epoch {progress.epoch + 1} step {step + 1}"
        # a NaN stays in the sum: read it every step on a CPU (free), every 50 on a GPU (a sync)
        if run.device.type == "cpu" or step % 50 == 0:
            check_loss(run, meter, where)
        if run.signals.signum is not None:
            check_loss(run, meter, where)
            progress.wall += time.time() - meter.last
            save_checkpoint(run, step + 1, meter)
            run.signals.stop(run.folder)
        if step % 50 == 0:
            loss = float(meter.mean_loss())
            bar.set_postfix(mse=f"{loss:.4f}", img_s=f"{meter.images_per_s(run.world):.0f}", refresh=False)
        if time.time() - meter.last > cfg.checkpoint_every_s:
            check_loss(run, meter, where)
            progress.wall += time.time() - meter.last
            meter.last = time.time()
            save_checkpoint(run, step + 1, meter)
    progress.wall += time.time() - meter.last
    check_loss(run, meter, f"the end of epoch {progress.epoch + 1}")
    return meter


def finish_epoch(run: DecoderRun, meter: EpochMeter) -> None:
    """Validate the epoch's weights, checkpoint the epoch's end and log its row."""
    progress = run.progress
    if run.rank == 0:
        if run.val_codes is None:
            run.val_codes = slow_codes(run.rep, run.val_x)
        progress.history.append(epoch_row(run, meter))
    progress.epoch, progress.step_in_epoch = progress.epoch + 1, 0
    save_checkpoint(run, 0)  # before the log: a kill between the two leaves a row the next start logs
    if run.log is not None:
        run.log.log(progress.history[-1])
        print(dumps(progress.history[-1]), flush=True)


def epoch_row(run: DecoderRun, meter: EpochMeter) -> dict[str, Any]:
    """The learning curve's row of the epoch just trained: validation error and the epoch's means."""
    module, val_x, codes = run.module, run.val_x, run.val_codes
    val = evaluate_decoder(module.shipped_decoder(), run.rep, val_x, codes=codes)
    row = {
        "epoch": run.progress.epoch + 1,
        "train_mse": float(meter.mean_loss()),
        "val_normalized_error": val["normalized_error"],
    }
    if run.cfg.ema:
        row["val_raw_weights"] = evaluate_decoder(module.decoder, run.rep, val_x, codes=codes)["normalized_error"]
    row.update({f"train_{k}": v / max(meter.seen, 1) for k, v in meter.gan.items()})
    row.update(
        {
            "lr": run.opt.param_groups[0]["lr"],
            "wall_s": round(run.progress.wall, 1),
            "img_per_s": meter.images_per_s(run.world),
        }
    )
    return row


def plateaued(history: list[dict[str, Any]], patience: int) -> bool:
    """Whether the last ``patience`` epochs all failed to lower the best validation error before them."""
    if patience <= 0 or len(history) <= patience:
        return False
    errors = [h["val_normalized_error"] for h in history]
    return min(errors[-patience:]) >= min(errors[:-patience])


def stores_codes(cfg: DecoderConfig, rep: Representation) -> bool:
    """Whether :func:`precomputed_codes` keeps the codes of this run once (see there)."""
    from preimage.inverters.decoders import _code_flip

    if cfg.crop_pad or cfg.finetune_encoder:
        return False
    try:
        _code_flip(cfg.rep, cfg.input_size)
        return True
    except PreimageError:
        return not getattr(rep, "differentiable", True) or _dense_pairs(cfg, rep)


def _dense_pairs(cfg: DecoderConfig, rep: Representation) -> bool:
    """Whether the codes are a fixed network's, small enough for :class:`DenseCodePairs`."""
    return isinstance(rep, LayerTap) and math.prod(rep.out_shape(cfg.input_size)) <= DenseCodePairs.MAX_VALUES


def precomputed_codes(cfg: DecoderConfig, rep: Representation, images: torch.Tensor, rank: int) -> CodeStore | None:
    """The codes of every training image (and of its mirror image), computed once, when an epoch needs no others.

    That is when there are no crops (``--crop-pad 0``) and the encoder is fixed. A representation that
    mirrors its code (LBP exactly, HOG up to orientation ties; whole cells tiling the image) keeps one
    dense code per image; a sparse, non-differentiable one (SIFT) keeps the non-empty cells of the codes
    of each image and of its mirror image, cached under ``--cache-dir`` (20 minutes of SIFT at 224 px are
    not recomputed on resume); a fixed network's codes (every alexnet64 layer at 64 px) are stored densely
    for each image and its mirror image. Larger codes are computed on the fly.
    """
    from preimage.inverters.decoders import _code_flip

    if not stores_codes(cfg, rep):
        return None
    say = print if rank == 0 else (lambda *a, **k: None)
    try:
        mirror = _code_flip(cfg.rep, cfg.input_size)
    except PreimageError:
        mirror = None
    t0 = time.time()
    if mirror is not None:
        say(f"computing the {cfg.rep} codes of {len(images)} training images once (--crop-pad 0)", flush=True)
        with torch.no_grad():
            codes = torch.cat([rep(images[i : i + 64].float() / 255.0) for i in range(0, len(images), 64)])
        say(f"codes {tuple(codes.shape)} in {time.time() - t0:.0f} s", flush=True)
        return MirroredCodes(codes, mirror)
    dense = _dense_pairs(cfg, rep)
    kind: type[DenseCodePairs] | type[SparseCodePairs] = DenseCodePairs if dense else SparseCodePairs
    cached = None
    if cfg.cache_dir is not None:
        source = str(Path(cfg.data).resolve() / cfg.train_pattern)  # resolved: "../x" and "/abs/x" share a cache
        source += f"+{Path(cfg.extra_train).resolve()}" if cfg.extra_train else ""
        # a network's codes are keyed by its weights too: another network's codes are not these
        key = f"{cfg.rep}@{getattr(rep, 'weights_sha256', None) or ''}" if dense else cfg.rep
        cached = code_cache_file(cfg.cache_dir, key, cfg.input_size, source, images)
        if cached.is_file():
            store = kind.load(cached)
            say(f"{cfg.rep} codes of {len(images)} images and their mirrors read from {cached}", flush=True)
            return store
    say(f"computing the {cfg.rep} codes of {len(images)} training images and their mirrors once (--crop-pad 0)")
    store = kind.compute(rep, images if dense else images.cpu(), log=lambda m: say(m, flush=True))
    say(f"{store.nbytes() / 2**30:.2f} GiB of stored codes in {time.time() - t0:.0f} s", flush=True)
    if cached is not None and rank == 0:
        store.save(cached)
    return store


def load_teachers(cfg: DecoderConfig, code_shape: tuple[int, ...], device: torch.device) -> list[Decoder]:
    """The ``--teacher`` decoders, checked to invert the same representation at the same size, in eval mode."""
    if cfg.teachers and cfg.finetune_encoder:
        raise PreimageError("`teachers` distil a decoder for a fixed encoder; drop them or `finetune_encoder`")
    if cfg.teacher_flip_average and not cfg.teachers:
        raise PreimageError("`teacher_flip_average` needs at least one of `teachers`")
    if cfg.teacher_flip_average:
        from preimage.inverters.decoders import _code_flip

        _code_flip(cfg.rep, cfg.input_size)  # fails now, in one line, for a representation that cannot mirror its code
    teachers = []
    for path in cfg.teachers:
        teacher = Decoder.from_file(path)
        out_size = cfg.output_size or cfg.input_size
        if (teacher.rep, teacher.code_shape, teacher.input_size, teacher.output_size) != (
            cfg.rep,
            code_shape,
            cfg.input_size,
            out_size,
        ):
            raise PreimageError(
                f"`teachers` {path} inverts {teacher.rep} codes {teacher.code_shape} of {teacher.input_size}-px "
                f"images to {teacher.output_size} px, not {cfg.rep} {code_shape} of {cfg.input_size}-px images to "
                f"{out_size} px — pass a decoder for the same `rep`, `input_size` and `output_size`"
            )
        teacher.flip_average = cfg.teacher_flip_average
        teachers.append(teacher.to(device).eval().requires_grad_(False))
    return teachers


def matching_tensors(decoder: Decoder, start: Decoder) -> dict[str, torch.Tensor]:
    """``start``'s tensors that ``decoder`` has under the same name and with the same shape."""
    target = decoder.state_dict()
    return {k: v for k, v in start.state_dict().items() if k in target and target[k].shape == v.shape}


def grow_from(decoder: Decoder, start: Decoder, source: str) -> int:
    """Initialise ``decoder`` from trained weights; returns how many tensors were copied.

    - Same architecture, or one with fewer stage blocks: every weight is copied. Stage blocks are the
      identity when new, so a grown decoder starts out computing exactly what the trained one does.
    - A different ``shuffle`` or fewer stage blocks (a cheaper student): the tensors whose names and shapes
      match are copied (the code-resolution trunk and the shared expansion stages); the rest (the new
      sub-pixel head) starts fresh, so distil it from the trained decoder (``--teacher``).
    """
    mine, theirs = decoder.config(), start.config()
    # the starting weights may come from another network's codes (a warm start); the export records this run's
    free = ("stage_blocks", "shuffle", "encoder_sha256")
    if {k: v for k, v in mine.items() if k not in free} != {k: v for k, v in theirs.items() if k not in free}:
        raise PreimageError(
            f"`init_decoder` {source} was trained as {theirs}, not {mine} — pass the same `rep`, `width`, `top`, "
            "`blocks`, `hidden` and `upsample` (`stage_blocks` and `shuffle` may differ)"
        )
    # growth is the case where every trained tensor matches; a student takes the ones that do
    shared = matching_tensors(decoder, start)
    decoder.load_state_dict(shared, strict=False)
    return len(shared)


def export_decoder(
    decoder: Decoder,
    rep: Representation,
    cfg: DecoderConfig,
    history: list[dict[str, Any]],
    strict: bool = False,
    train_images: int | None = None,
) -> dict[str, Any]:
    """Write fp16 safetensors (config in the metadata) and re-measure the *shipped* weights."""
    run = Path(cfg.out)
    kind = "autoencoder" if cfg.finetune_encoder else "decoder"
    name = zoo.file_name(kind, cfg.rep, cfg.input_size, "sharp" if cfg.loss == "deepsim" else None)
    path = export_safetensors(
        decoder.state_dict(),
        run / name,
        fp16=True,
        metadata={"config": json.dumps(decoder.config())},
    )
    if cfg.finetune_encoder:
        # only the layers the tap's forward pass uses were fine-tuned (the rest never got a gradient);
        # shipping those alone keeps the zoo small, the rest comes from the base network's weights
        model = getattr(rep, "model", None)
        assert model is not None
        if all(p.grad is None for p in model.parameters()):  # resumed after the last step: nothing ran here
            rep(
                torch.zeros(1, 3, cfg.input_size, cfg.input_size, device=next(model.parameters()).device)
            ).sum().backward()
        tuned = {n for n, p in model.named_parameters() if p.grad is not None}
        state = {k: v for k, v in model.state_dict().items() if k in tuned}
        export_safetensors(state, run / zoo.encoder_file_name(cfg.rep), fp16=True)
    shipped = Decoder.from_file(path).to(next(decoder.parameters()).device)
    root = Path(cfg.data)
    val_x, _ = materialize(str(root / cfg.val_pattern), cfg.input_size, "center", None, cfg.cache_dir, strict)
    summary: dict[str, Any] = {
        "rep": cfg.rep,
        "input_size": cfg.input_size,
        "output_size": shipped.output_size,
        "autoencoder": cfg.finetune_encoder,
        "val_set": dataset_name(cfg.data),
        "train_images": train_images,
        "code_shape": list(shipped.code_shape),
        "val": evaluate_decoder(shipped, rep, val_x),
        "epochs": len(history),
        "learning_curve": [round(h["val_normalized_error"], 4) for h in history],
        "encoder_sha256": shipped.encoder_sha256,
        "code_transform": shipped.code_transform,
        "wall_min": round(history[-1]["wall_s"] / 60, 1),
        "weights": str(path),
        "size_mb": round(path.stat().st_size / 2**20, 2),
    }
    if next(decoder.parameters()).is_cuda:
        summary["gpu"] = torch.cuda.get_device_name()
    bsds = root.parent / "bsds500" / "val-0000.tar.gz"
    if bsds.is_file():
        bx, _ = materialize(str(bsds), cfg.input_size, "center", None, cfg.cache_dir, strict)
        summary["bsds500_val"] = evaluate_decoder(shipped, rep, bx)
    write_json(run / "summary.json", summary)
    write_decoder_card(path.with_suffix(".md"), cfg, summary, sum(p.numel() for p in shipped.parameters()))
    print(dumps(summary), flush=True)
    return summary


# what the cards say of the data sets in ../shared/data (name, training images, terms)
DATASETS = {
    "tiny-imagenet-200": ("Tiny-ImageNet-200", "100,000 images, 64 px", "ImageNet non-commercial research terms"),
    "imagenette-224": (
        "Imagenette (224 px)",
        "8,000 images of 10 ImageNet classes, 224 px",
        "ImageNet non-commercial research terms",
    ),
}


def dataset_name(data: str) -> str:
    """The folder name of a shard set (``tiny-imagenet-200``), by which cards and summaries name it."""
    return Path(data).resolve().name


def _encoder_line(summary: dict[str, Any]) -> str:
    sha = summary.get("encoder_sha256")
    transform = summary.get("code_transform", "identity")
    line = f"- **Network weights** (SHA-256 of the file the codes came from): `{sha}`\n" if sha else ""
    entry = {
        "log": "- **Codes enter as** log-probabilities, log(max(p, 1e-8)).\n",
        "centred-log": "- **Codes enter as** centred log-probabilities, log(max(p, 1e-8)) less their mean over the "
        "classes (the logits up to the constant softmax forgets).\n",
    }
    return line + entry.get(transform, "")


def _curve_line(summary: dict[str, Any]) -> str:
    """The learning curve: validation error after every epoch."""
    curve = summary.get("learning_curve") or []
    if not curve:
        return ""
    points = ", ".join(f"{i + 1}: {e:.3f}" for i, e in enumerate(curve))
    return f"- **Learning curve** (validation error after each epoch): {points}\n"


# settings a card's Reproduce line states apart (rep, data, out, sizes, epochs, width) or that do not change the
# weights (where data is cached, checkpoints, threads, precision as resolved on the machine, validation size)
CARD_UNSTATED = frozenset(
    {"rep", "data", "out", "input_size", "output_size", "epochs", "width", "threads", "checkpoint_every_s",
     "stop_after_epochs", "cache_dir", "amp", "workers", "limit_val", "train_pattern", "val_pattern"}
)  # fmt: skip


def reproduce_flags(cfg: DecoderConfig) -> str:
    """The flags of every other setting that differs from its default, as ``train-decoder`` spells them."""
    out = ""
    for f in fields(cfg):
        value, default = getattr(cfg, f.name), f.default_factory() if callable(f.default_factory) else f.default
        if f.name in CARD_UNSTATED or value == default:
            continue
        flag = field_flag(DecoderConfig, f.name)
        if isinstance(value, bool):
            out += f" {flag}"
        elif isinstance(value, tuple):
            out += "".join(f" {flag} {v}" for v in value)
        else:
            out += f" {flag} {value:g}" if isinstance(value, float) else f" {flag} {value}"
    return out


def _architecture_phrase(cfg: DecoderConfig, summary: dict[str, Any]) -> str:
    """What the card adds to "up-convolutional decoder, width W": every architecture setting not at its default."""
    arch = f", code-resolution trunk of {cfg.top or 4 * cfg.width} channels" if cfg.top else ""
    arch += f", {cfg.blocks} residual blocks" if cfg.blocks else ""
    arch += (
        f", {cfg.stage_blocks} residual block(s) per expansion stage below the output size" if cfg.stage_blocks else ""
    )
    arch += f", the last {cfg.shuffle}x upsampling one sub-pixel convolution" if cfg.shuffle != 1 else ""
    arch += ", bilinear resize-convolutions instead of transposed ones" if cfg.upsample == "bilinear" else ""
    vector = len(summary["code_shape"]) == 1  # fc and prob codes
    arch += f", fully connected width {cfg.hidden}" if vector else ""
    return arch


def _origin_lines(cfg: DecoderConfig) -> str:
    """The card's lines on where training started and what it optimised, when not a fresh MSE decoder."""
    start_line = ""
    if cfg.init_decoder:
        start_line = (
            f"- **Start**: decoder initialised from `{cfg.init_decoder}` (see that file's card for its training)"
        )
        start_line += (
            f"; encoder fine-tuned from the shipped weights at lr {cfg.encoder_lr:g}.\n"
            if cfg.finetune_encoder
            else ".\n"
        )
    elif cfg.finetune_encoder:
        start_line = f"- **Start**: encoder fine-tuned from the shipped weights at lr {cfg.encoder_lr:g}.\n"
    if cfg.teachers and cfg.loss == "deepsim":
        start_line += (
            f"- **Anchored**: the pixel terms' target is the mean output of {len(cfg.teachers)} trained decoder(s) "
            f"({', '.join(f'`{t}`' for t in cfg.teachers)}), not the image (the same loss in expectation where "
            "they predict E[x | code], without the image's unpredictable part in the gradients); the comparator, "
            "the discriminator and validation see the images.\n"
        )
    elif cfg.teachers:
        start_line += (
            f"- **Distilled**: the MSE target is the mean output of {len(cfg.teachers)} trained decoder(s) "
            f"({', '.join(f'`{t}`' for t in cfg.teachers)}"
            f"{', each averaged with its decoding of the mirrored code' if cfg.teacher_flip_average else ''}), "
            "not the image; validation measures against the images.\n"
        )
    if cfg.loss == "deepsim":
        feat, adv, img, low = parse_weights(cfg.deepsim_weights)
        low_text = f" + {low:g} x pixels blurred by a Gaussian of sigma {LOWPASS_SIGMA:g} px"
        r1_text = f", R1 penalty {cfg.deepsim_r1:g} on its gradient at the photos" if cfg.deepsim_r1 else ""
        critic = ("conditional" if cfg.deepsim_conditional else "unconditional") + (
            " patch" if cfg.deepsim_discriminator == "patch" else ""
        )
        texture_text = (
            f" + {cfg.deepsim_texture:g} x Gram matrices of alexnet64 {' and '.join(TEXTURE_LAYERS)} (texture)"
            if cfg.deepsim_texture
            else ""
        )
        start_line += (
            f"- **Loss** (DeePSiM, Dosovitskiy & Brox 2016b; the 'sharp' variant): {feat:g} x comparator features "
            f"({cfg.deepsim_comparator}) + {adv:g} x adversarial "
            f"({critic} discriminator, paused while it wins too easily{r1_text}) + {img:g} x pixels"
            f"{low_text if low else ''}{texture_text}, squared "
            "norms halved per image; not the pixel MSE named below.\n"
        )
    return start_line


def _task_phrase(cfg: DecoderConfig, out_size: int) -> str:
    """What the decoder predicts: the mean pre-image (pixel MSE) or, under the DeePSiM loss, a sharp one."""
    source = f"the `{cfg.rep}` code of the {cfg.input_size}x{cfg.input_size} image"
    if cfg.loss == "deepsim":
        return (
            f"a sharp, natural-looking pre-image ({out_size}x{out_size} RGB) of {source}, trained with the DeePSiM "
            "loss (Dosovitskiy & Brox, NIPS 2016; see **Loss**), not the blurred mean that pixel MSE gives"
        )
    return (
        f"predict the expected pre-image E[x | Phi(x)] of a {out_size}x{out_size} RGB image from {source} "
        "(Dosovitskiy & Brox 2016), pixel MSE in [0, 1]"
    )


def _subset_phrase(cfg: DecoderConfig, summary: dict[str, Any]) -> str:
    subset = f", of which the first {cfg.limit_train:,} images" if cfg.limit_train else ""
    if not cfg.extra_train:
        return subset
    spec = Path(cfg.extra_train)
    folder = dataset_name(str(spec if spec.is_dir() else spec.parent))
    name, _, terms = DATASETS.get(folder, (folder, "", "the data set's own terms"))
    total = f": {summary['train_images']:,} training images in all" if summary.get("train_images") else ""
    return f"{subset}, plus {name} `{cfg.extra_train}` resized to {cfg.input_size} px ({terms}){total}"


def write_decoder_card(path: Path, cfg: DecoderConfig, summary: dict[str, Any], n_params: int) -> None:
    tiny = summary["val"]
    folder = summary["val_set"]
    name, train_desc, terms = DATASETS.get(folder, (folder, "its train shards", "the data set's own terms"))
    out_size = summary["output_size"]
    full = (
        f"; at {cfg.input_size} px (the reconstruction upsampled bilinearly) **{tiny['normalized_error_full']:.3f}**"
        if cfg.input_size != out_size
        else ""
    )
    target = (
        "against the image"
        if out_size == cfg.input_size
        else f"against the image downsampled to {out_size} px (bilinear, antialiased)"
    )
    code = "x".join(str(n) for n in summary.get("code_shape", []))
    run_name = f"runs/{'autoencoder' if cfg.finetune_encoder else 'decoder'}_{cfg.rep.replace(':', '_')}"
    size_flags = f" --size {cfg.input_size}" if cfg.input_size != 64 else ""
    size_flags += f" --output-size {out_size}" if out_size != cfg.input_size else ""
    bsds = summary.get("bsds500_val")
    bsds_line = (
        f"- BSDS500 val, 100 centre crops, at {summary['output_size']} px: **{bsds['normalized_error']:.3f}** "
        f"(95% CI {bsds['ci95'][0]:.3f}-{bsds['ci95'][1]:.3f})"
        if bsds
        else "- BSDS500 val: not measured"
    )
    arch = _architecture_phrase(cfg, summary)
    flags = reproduce_flags(cfg)
    augmentation = f"reflect-pad-{cfg.crop_pad} random crops and flips" if cfg.crop_pad else "flips (no crops)"
    if cfg.shift_cells:
        augmentation = f"flips and shifts of image and code together by up to {cfg.shift_cells} code cells"
    start_line = _origin_lines(cfg)
    epochs = f"{summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''}"
    write_text(
        path,
        f"""# Decoder for `{cfg.rep}`{" (autoencoder: encoder fine-tuned)" if cfg.finetune_encoder else ""}

- **Task**: {_task_phrase(cfg, out_size)}; errors are measured {target}.
- **Sizes**: input (the image the representation sees) {cfg.input_size} px, output {out_size} px; code {code}.
- **Architecture**: up-convolutional decoder, width {cfg.width}{arch}, {n_params / 1e6:.2f}M parameters,
  fp16 safetensors ({summary["size_mb"]} MB).
- **Data**: {name} train ({train_desc}){_subset_phrase(cfg, summary)}, {augmentation}; {terms} apply.
- **Training**: {epochs}, Adam lr {cfg.lr} with warm-up and cosine decay, batch {cfg.batch_size},
  bf16 autocast, seed {cfg.seed}{f", weights averaged (EMA {cfg.ema})" if cfg.ema else ""}; {summary["wall_min"]} min
  wall time on {summary.get("gpu", "a 2-core CPU")}.
- **Normalised reconstruction error** (shipped weights):
  - {name} val, {tiny["n"]} images, at {out_size} px: **{tiny["normalized_error"]:.3f}**
    (95% CI {tiny["ci95"][0]:.3f}-{tiny["ci95"][1]:.3f}){full}
  {bsds_line}
{_encoder_line(summary)}{_curve_line(summary)}- **Reproduce**: `preimage train-decoder --rep {cfg.rep}
  --data ../shared/data/{folder}{size_flags}
  --epochs {cfg.epochs} --width {cfg.width}{flags} -o {run_name}`
{start_line}
""",
    )
