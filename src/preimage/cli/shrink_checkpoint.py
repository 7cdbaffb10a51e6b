"""``preimage shrink-checkpoint``: an fp16 copy of a checkpoint, to carry a run elsewhere."""

from __future__ import annotations

import argparse

from preimage.cli.common import command
from preimage.files import dumps, prepare_outputs


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
