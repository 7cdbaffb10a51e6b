"""Markdown tables against hand-written expected text."""

from __future__ import annotations

import pytest

from preimage.report.tables import markdown_table, pivot_markdown


def test_markdown_table_escapes_pipes_and_checks_widths() -> None:
    assert markdown_table(["a", "b"], [["1", "x|y"]]) == "| a | b |\n|---|---|\n| 1 | x\\|y |\n"
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b"], [["1"]])


def test_pivot_keeps_first_seen_order_marks_gaps_and_takes_extras_from_the_first_row() -> None:
    rows = [
        {"rep": "hog", "method": "decoder", "set": "A", "e": 0.3, "paper": 0.24},
        {"rep": "hog", "method": "decoder", "set": "B", "e": 0.4, "paper": 0.24},
        {"rep": "lbp", "method": "decoder", "set": "B", "e": 0.5, "paper": 0.38},
    ]
    text = pivot_markdown(
        rows, ("rep", "method"), ("set",), lambda r: f"{r['e']:.1f}", extra=[("paper", lambda r: str(r["paper"]))]
    )
    assert text == (
        "| rep | method | A | B | paper |\n"
        "|---|---|---|---|---|\n"
        "| hog | decoder | 0.3 | 0.4 | 0.24 |\n"
        "| lbp | decoder | — | 0.5 | 0.38 |\n"
    )


def test_pivot_refuses_two_rows_for_one_cell() -> None:
    rows = [{"r": 1, "c": "x", "v": 1}, {"r": 1, "c": "x", "v": 2}]
    with pytest.raises(ValueError, match="two rows"):
        pivot_markdown(rows, ("r",), ("c",), lambda r: str(r["v"]))
