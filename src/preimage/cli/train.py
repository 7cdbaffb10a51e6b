"""``train-classifier``, ``evaluate-classifier``, ``train-decoder``, ``fit-linear``, ``train-hoggles`` and
``shrink-checkpoint``."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage import zoo
from preimage.cli import args as types
from preimage.cli.main import command
from preimage.files import dumps, prepare_outputs, run_folder
from preimage.inverters.decoders import CODE_TRANSFORMS, UPSAMPLINGS
from preimage.runtime import AMP_CHOICES


def add_run_arguments(
    p: argparse.ArgumentParser, epochs: int, batch_size: int, lr: float, per_process: bool = False
) -> None:
    """Options every training run shares: length, batch, learning rate, precision, data and checkpoints."""
    p.add_argument("--epochs", type=types.positive, default=epochs, help="passes over the training images")
    split = " (the global batch, split over torchrun processes)" if per_process else ""
    p.add_argument("--batch-size", type=types.positive, default=batch_size, help=f"images per step{split}")
    p.add_argument("--lr", type=types.positive_float, default=lr, help="peak learning rate")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed (initialisation, data order, augmentation)")
    p.add_argument(
        "--amp",
        choices=AMP_CHOICES,
        default="auto",
        help="bf16 autocast; default auto: bf16 where the hardware has it (a GPU, or a CPU with AVX512-BF16/AMX), "
        "none elsewhere (emulated bf16 is ~20x slower than float32)",
    )
    p.add_argument(
        "--limit-train",
        type=types.positive,
        default=None,
        help="use only the first N training images, N >= --batch-size (default: all)",
    )
    p.add_argument(
        "--limit-val", type=types.positive, default=1000 if per_process else None, help="validation images per epoch"
    )
    p.add_argument("--cache-dir", default=None, help="keep decoded uint8 arrays here between runs (default: none)")
    p.add_argument(
        "--checkpoint-every",
        type=types.positive_float,
        default=300.0,
        help="seconds between mid-epoch checkpoints (one is also written after every epoch and on Ctrl-C/SIGTERM)",
    )
    p.add_argument(
        "--stop-after",
        type=types.positive,
        default=None,
        help="end this process after epoch N, to continue later with --resume (default: run to the end)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt (settings that differ from the checkpoint's are an error, "
        "except the run length, checkpoint interval and threads)",
    )


def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        choices=["alexnet64", "vgg19_64"],
        default="alexnet64",
        help="network to train (default alexnet64); vgg19_64 is the VGG-19 structure of Xia et al. at 64 px",
    )
    p.add_argument("--data", required=True, help="Tiny-ImageNet-200 shard folder (train-*.tar.gz, val-0000.tar.gz)")
    p.add_argument("-o", "--out", required=True, help="run folder: checkpoint, metrics.csv, weights, model card")
    add_run_arguments(p, epochs=18, batch_size=128, lr=0.1)
    p.add_argument("--weight-decay", type=types.non_negative_float, default=5e-4, help="SGD weight decay (L2)")
    p.add_argument(
        "--label-smoothing",
        type=types.non_negative_float,
        default=0.0,
        help="cross-entropy label smoothing (default 0: plain cross-entropy, as the paper's AlexNet; smoothing "
        "flattens the small class probabilities that the prob and fc8 decoders read)",
    )


@command("train-classifier", "train alexnet64 or vgg19_64 on Tiny-ImageNet-200 (seeded, resumable)", _train_args)
def _train(args: argparse.Namespace) -> int:
    from preimage.training.classifier import ClassifierConfig, train_classifier

    cfg = ClassifierConfig(
        data=args.data,
        out=args.out,
        model=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        amp=args.amp,
        limit_train=args.limit_train,
        limit_val=args.limit_val,
        cache_dir=args.cache_dir,
        checkpoint_every_s=args.checkpoint_every,
        stop_after_epochs=args.stop_after,
        threads=args.threads,
    )
    with run_folder(args.out):
        train_classifier(cfg, resume=args.resume, overwrite=args.overwrite, strict=args.strict)
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="registered model name, e.g. alexnet64")
    p.add_argument("--weights", default="default", help="'default' (shipped) or a .safetensors/.pth file")
    p.add_argument(
        "--data", required=True, help="labelled shards, e.g. ../shared/data/tiny-imagenet-200/val-0000.tar.gz"
    )
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    p.add_argument("--size", type=types.size, default=None, help="input side in pixels (default: the model's)")


@command("evaluate-classifier", "top-1/top-5 accuracy of a classifier on labelled shards (JSON)", _eval_args)
def _evaluate(args: argparse.Namespace) -> int:
    from preimage.data import materialize
    from preimage.models import create_model, get_config
    from preimage.training.classifier import evaluate_classifier

    cfg = get_config(args.model)
    model = create_model(args.model, weights=args.weights)
    x, y = materialize(args.data, args.size or cfg.input_size, "center", args.limit, strict=args.strict)
    result = evaluate_classifier(model, x, y, cfg.mean, cfg.std)
    print(dumps({"model": args.model, "weights": str(args.weights), **result}))
    return 0


def _train_decoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rep", required=True, help="hog, lbp, sift (lbp@4: another cell size) or alexnet64:LAYER")
    p.add_argument("--data", required=True, help="shard folder with train-*.tar.gz and val-*.tar.gz")
    p.add_argument("-o", "--out", required=True, help="run folder")
    add_run_arguments(p, epochs=10, batch_size=64, lr=1e-3, per_process=True)
    p.add_argument(
        "--width", type=types.positive, default=32, help="decoder width knob (channels of the finest stage x 2)"
    )
    p.add_argument("--hidden", type=types.positive, default=512, help="fully connected width of fc/prob decoders")
    p.add_argument(
        "--blocks", type=types.non_negative, default=0, help="residual blocks at the code resolution (spatial codes)"
    )
    p.add_argument(
        "--top", type=types.non_negative, default=0, help="channels at the code resolution (default 0: 4 x width)"
    )
    p.add_argument(
        "--crop-pad",
        type=types.non_negative,
        default=4,
        help="random crops of the image reflect-padded by this many pixels (default 4; 0 = flips only)",
    )
    p.add_argument(
        "--shift-cells",
        type=types.non_negative,
        default=0,
        help="with --crop-pad 0: shift image and stored code together by up to this many code cells, "
        "vacated pixels out of the loss (default 0: none)",
    )
    p.add_argument(
        "--stage-blocks",
        type=types.non_negative,
        default=0,
        help="residual blocks after each expansion stage below the output size (grows an --init-decoder)",
    )
    p.add_argument(
        "--shuffle",
        type=types.positive,
        default=1,
        help="do the last doublings (a power of 2) as one sub-pixel convolution instead of up-convolutions: "
        "a faster decoder (1 = up-convolutions all the way)",
    )
    p.add_argument(
        "--upsample",
        choices=UPSAMPLINGS,
        default="transposed",
        help="how a spatial decoder doubles its maps: transposed convolutions (the paper's up-convolutions) or "
        "bilinear resize then a 3x3 convolution, which has no per-cell kernel footprint to repeat as a grid in "
        "flat regions (about 2x the multiply-adds of those layers; default: transposed)",
    )
    p.add_argument(
        "--ema",
        type=types.decay,
        default=0.0,
        help="average the weights with this decay in [0, 1), e.g. 0.999; 0 = off",
    )
    p.add_argument(
        "--size", type=types.size, default=64, help="side in pixels of the image the representation sees (default 64)"
    )
    p.add_argument(
        "--output-size",
        type=types.size,
        default=None,
        help="side in pixels of the reconstruction (default: --size); the paper's protocol is --size 224 "
        "--output-size 64: features of the full photo, targets downsampled (bilinear, antialiased)",
    )
    p.add_argument("--finetune-encoder", action="store_true", help="autoencoder bound: train the CNN encoder too")
    p.add_argument(
        "--weights",
        default="default",
        help="the network's weights for MODEL:LAYER: 'default' (shipped) or a .safetensors/.pth file",
    )
    p.add_argument("--init-decoder", default=None, help="start from these decoder weights (.safetensors)")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--workers", type=types.non_negative, default=2, help="DataLoader processes computing SIFT codes")
    p.add_argument(
        "--teacher",
        action="append",
        default=[],
        help="distil: train towards the mean output of these trained decoders (repeatable) instead of the images",
    )
    p.add_argument(
        "--warmup-steps", type=types.non_negative, default=200, help="linear learning-rate warm-up, in steps"
    )
    p.add_argument(
        "--teacher-flip-average", action="store_true", help="teachers average with their mirrored decoding (HOG, LBP)"
    )
    p.add_argument(
        "--code-transform",
        choices=CODE_TRANSFORMS,
        default="identity",
        help="how codes enter the decoder: identity, log (log-probabilities, for MODEL:prob) or centred-log "
        "(log-probabilities less their mean: the logits up to softmax's constant) (default identity)",
    )
    p.add_argument(
        "--loss",
        choices=("mse", "deepsim"),
        default="mse",
        help="mse: pixel MSE, the paper's E[x | Phi(x)] (blurred where the code is ambiguous); deepsim: "
        "comparator features (alexnet64 conv5) + adversarial + pixels (Dosovitskiy & Brox 2016b), sharp; "
        "exports the 'sharp' variant (default mse)",
    )
    p.add_argument(
        "--deepsim-weights",
        default="33,100,0.13",
        metavar="FEAT,ADV,IMG",
        help="DeePSiM's loss weights for [0, 1] images (default: the paper's Caffe values re-derived, 33,100,0.13)",
    )
    p.add_argument(
        "--deepsim-conditional", action="store_true", help="the discriminator also sees the code (default: not)"
    )
    p.add_argument(
        "--patience",
        type=types.non_negative,
        default=0,
        help="stop once the validation error has not improved for this many epochs (default 0: run every epoch)",
    )


@command(
    "train-decoder", "train an up-convolutional decoder for one representation (torchrun for DDP)", _train_decoder_args
)
def _train_decoder(args: argparse.Namespace) -> int:
    from preimage.training.decoder import DecoderConfig, train_decoder

    cfg = DecoderConfig(
        rep=args.rep,
        data=args.data,
        out=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        width=args.width,
        hidden=args.hidden,
        blocks=args.blocks,
        top=args.top,
        stage_blocks=args.stage_blocks,
        shuffle=args.shuffle,
        upsample=args.upsample,
        ema=args.ema,
        size=args.size,
        output_size=args.output_size,
        seed=args.seed,
        amp=args.amp,
        finetune_encoder=args.finetune_encoder,
        encoder_weights=args.weights,
        init_decoder=args.init_decoder,
        limit_train=args.limit_train,
        limit_val=args.limit_val,
        cache_dir=args.cache_dir,
        checkpoint_every_s=args.checkpoint_every,
        stop_after_epochs=args.stop_after,
        device=args.device,
        workers=args.workers,
        teachers=tuple(args.teacher),
        crop_pad=args.crop_pad,
        shift_cells=args.shift_cells,
        teacher_flip_average=args.teacher_flip_average,
        warmup_steps=args.warmup_steps,
        code_transform=args.code_transform,
        patience=args.patience,
        threads=args.threads,
        loss=args.loss,
        deepsim_weights=args.deepsim_weights,
        deepsim_conditional=args.deepsim_conditional,
    )
    with run_folder(args.out):
        train_decoder(cfg, resume=args.resume, overwrite=args.overwrite, strict=args.strict)
    return 0


def _fit_linear_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rep", required=True, help="hog, lbp, sift (lbp@4: another cell size) or alexnet64:LAYER")
    p.add_argument("--data", required=True, help="shard folder with train-*.tar.gz and val-*.tar.gz")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument(
        "--size", type=types.size, default=64, help="side in pixels of the image the representation sees (default 64)"
    )
    p.add_argument(
        "--output-size", type=types.size, default=None, help="side in pixels of the reconstruction (default: --size)"
    )
    p.add_argument(
        "--thumbnail-size", type=types.size, default=8, help="side of the thumbnail the matrix predicts (default 8)"
    )
    p.add_argument(
        "--limit-train", type=types.positive, default=50_000, help="training images to fit on (default 50000)"
    )
    p.add_argument("--code-transform", choices=CODE_TRANSFORMS, default="identity", help="as for train-decoder")
    p.add_argument(
        "--weights",
        default="default",
        help="the network's weights for MODEL:LAYER: 'default' (shipped) or a .safetensors/.pth file",
    )
    p.add_argument(
        "--seed", type=types.seed, default=0, help="random seed (the held-out split that picks the strength)"
    )
    p.add_argument("--cache-dir", default=None, help="keep decoded uint8 arrays here between runs (default: none)")


@command(
    "fit-linear",
    "fit the linear baseline (ridge regression, closed form) from a representation's code to the image",
    _fit_linear_args,
)
def _fit_linear(args: argparse.Namespace) -> int:
    from preimage.training.linear import LinearConfig, fit_linear

    cfg = LinearConfig(
        rep=args.rep,
        data=args.data,
        out=args.out,
        size=args.size,
        output_size=args.output_size,
        thumbnail_size=args.thumbnail_size,
        limit_train=args.limit_train,
        code_transform=args.code_transform,
        encoder_weights=args.weights,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    with run_folder(args.out):
        fit_linear(cfg, overwrite=args.overwrite, strict=args.strict)
    return 0


def _train_hoggles_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="shard folder with train-*.tar.gz and val-*.tar.gz")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--atoms", type=types.positive, default=256, help="dictionary atoms (paired HOG/image pairs)")
    p.add_argument("--alpha", type=types.positive_float, default=0.02, help="lasso penalty")
    p.add_argument("--windows", type=types.positive, default=20_000, help="training windows")
    p.add_argument("--rounds", type=types.positive, default=5, help="coding + dictionary-update rounds")
    p.add_argument("--train-images", type=types.positive, default=20_000, help="training images to cut windows from")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed")
    p.add_argument("--cache-dir", default=None, help="keep decoded uint8 arrays here between runs (default: none)")


@command("train-hoggles", "learn the HOGgles paired dictionary (baseline HOG inverter)", _train_hoggles_args)
def _train_hoggles(args: argparse.Namespace) -> int:
    from preimage.inverters.hoggles import HogglesConfig
    from preimage.training.hoggles import train_hoggles

    prepare_outputs([Path(args.out) / zoo.file_name("hoggles", "hog")], args.overwrite)
    cfg = HogglesConfig(atoms=args.atoms, alpha=args.alpha, windows=args.windows, epochs=args.rounds, seed=args.seed)
    with run_folder(args.out):
        train_hoggles(args.data, args.out, cfg, args.train_images, args.cache_dir, args.strict)
    return 0


def _shrink_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="RUN/checkpoint.pt of train-classifier or train-decoder")
    p.add_argument("-o", "--out", required=True, help="fp16 copy; put it back as RUN/checkpoint.pt to --resume")


@command(
    "shrink-checkpoint",
    "fp16 copy of a training checkpoint, to carry an unfinished run to another machine",
    _shrink_args,
)
def _shrink(args: argparse.Namespace) -> int:
    from preimage.training.common import shrink_checkpoint

    prepare_outputs([args.out], args.overwrite)
    out = shrink_checkpoint(args.checkpoint, args.out)
    print(dumps({"out": str(out), "mb": round(out.stat().st_size / 2**20, 2)}))
    return 0
