"""``preimage explore``: the interactive explorer in the browser (see :mod:`preimage.explore`)."""

from __future__ import annotations

import argparse

from preimage.cli.common import command, note


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only); anything else serves the "
        "explorer to the network, with a warning",
    )
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--max-jobs", type=int, default=8, help="background jobs that may wait in the queue (default 8)")
    p.add_argument("--max-steps", type=int, default=1000, help="most optimisation steps one job may ask for")
    p.add_argument(
        "--decoder",
        action="append",
        default=[],
        metavar="FILE",
        help="also offer this decoder (a train-decoder export, e.g. for a --model network's layer); repeatable",
    )
    p.add_argument(
        "--weights",
        default="default",
        help="weights of the --model networks the --decoder files decode: 'default' (the factory's) or a file",
    )


@command("explore", "interactive explorer in the browser: decode, edit, interpolate and sample codes live", _configure)
def explore(args: argparse.Namespace) -> int:
    from preimage.errors import PreimageError

    if not 0 < args.port < 65536:
        raise PreimageError(f"--port must be between 1 and 65535, got {args.port}")
    if args.max_jobs < 1 or args.max_steps < 1:
        raise PreimageError("--max-jobs and --max-steps must be at least 1")
    from preimage.explore.app import is_loopback

    if not is_loopback(args.host):
        note(
            f"warning: serving on {args.host}, not only this machine: anyone who can reach port {args.port} can "
            "upload images and queue jobs (no authentication) — use the default --host 127.0.0.1 unless you mean it"
        )
    from preimage.explore import Explorer, serve

    explorer = Explorer(
        max_pending=args.max_jobs, max_steps=args.max_steps, decoders=args.decoder, network_weights=args.weights
    )
    serve(args.host, args.port, explorer)
    return 0
