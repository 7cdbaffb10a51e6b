"""A self-contained HTML page: sections of text, figures (inlined as data URIs) and tables."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preimage.files import write_text

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45} h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:2em} figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%;
image-rendering:pixelated;border:1px solid #eee} table{border-collapse:collapse;margin:1em 0;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:right} th{background:#f6f6f6} td:first-child,
th:first-child{text-align:left} .reading{background:#f7f9fc;border-left:3px solid #6a8ed8;padding:.6em 1em}
"""


@dataclass
class Section:
    title: str
    reading: str = ""
    figures: list[tuple[Path, str]] = field(default_factory=list)
    tables: list[tuple[Sequence[dict[str, Any]], str]] = field(default_factory=list)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _table(rows: Sequence[dict[str, Any]], caption: str) -> str:
    if not rows:
        return ""
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols)

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def write_page(path: Path, title: str, intro: str, sections: Sequence[Section]) -> Path:
    """Write one HTML file with every figure embedded, so the page can be mailed or archived alone."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{intro}</p>"
    ]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.reading:
            parts.append(f"<p class='reading'>{s.reading}</p>")
        for fig, caption in s.figures:
            if fig.is_file():
                parts.append(
                    f"<figure><img src='{_img(fig)}' alt='{html.escape(caption)}'>"
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        for rows, caption in s.tables:
            parts.append(_table(rows, caption))
    parts.append("</body></html>")
    write_text(path, "\n".join(parts))
    return path
