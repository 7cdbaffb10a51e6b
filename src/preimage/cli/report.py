"""``preimage report``: one HTML page from experiment results."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage.cli.common import (
    command,
)
from preimage.files import prepare_outputs


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="folder written by preimage experiment ... -o DIR")
    p.add_argument("-o", "--out", default=None, help="HTML file (default DIR/report.html)")


@command("report", "one self-contained HTML page from experiment results", _report_args)
def _report(args: argparse.Namespace) -> int:
    from preimage.report.page import build_report

    target = Path(args.out) if args.out else Path(args.dir) / "report.html"
    prepare_outputs([target], args.overwrite)
    page = build_report(Path(args.dir), target)
    print(f"wrote {page}")
    return 0
