"""Markdown tables from an experiment's rows, so READMEs quote generated tables instead of hand-copied numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Row = dict[str, Any]

MISSING = "—"


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table; ``|`` inside a cell is escaped so a cell cannot split a row."""
    if any(len(line) != len(header) for line in body):
        raise ValueError(f"every body row needs {len(header)} cells, as the header has")

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in body)]) + "\n"


def pivot_markdown(
    rows: Sequence[Row],
    index: Sequence[str],
    columns: Sequence[str],
    cell: Callable[[Row], str],
    extra: Sequence[tuple[str, Callable[[Row], str]]] = (),
) -> str:
    """One table row per distinct ``index`` value, one column per distinct ``columns`` value.

    Rows and columns keep the order in which their keys first appear in ``rows``; a combination that no row
    has reads ``—``; two rows with the same index and column are an error (the pivot would drop one).
    ``extra`` adds columns taken from the first row of each index (e.g. the paper's number).
    """
    row_keys: list[tuple[Any, ...]] = []
    col_keys: list[tuple[Any, ...]] = []
    cells: dict[tuple[tuple[Any, ...], tuple[Any, ...]], str] = {}
    first: dict[tuple[Any, ...], Row] = {}
    for r in rows:
        rk, ck = tuple(r[k] for k in index), tuple(r[k] for k in columns)
        if rk not in first:
            row_keys.append(rk)
            first[rk] = r
        if ck not in col_keys:
            col_keys.append(ck)
        if (rk, ck) in cells:
            where = dict(zip((*index, *columns), (*rk, *ck), strict=True))
            raise ValueError(f"two rows for {where}")
        cells[(rk, ck)] = cell(r)
    header = [*index, *(" ".join(str(v) for v in ck) for ck in col_keys), *(name for name, _ in extra)]
    body = [
        [*(str(v) for v in rk), *(cells.get((rk, ck), MISSING) for ck in col_keys), *(f(first[rk]) for _, f in extra)]
        for rk in row_keys
    ]
    return markdown_table(header, body)
