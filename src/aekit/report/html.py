"""One self-contained HTML page (figures embedded as base64 PNG)."""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from aekit import __version__
from aekit.runs import atomic_write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%}
.note{color:#555;font-size:.9em} code{background:#f4f4f4;padding:0 .2em}
"""


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    caption: str = ""

    def html(self) -> str:
        def cell(v) -> str:
            if isinstance(v, float):
                return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
            return html.escape(str(v))

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<tr>{head}</tr>{body}</table>"


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)  # paragraphs; may hold simple inline HTML
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'


def write_report(path: str | os.PathLike, title: str, sections: list[Section], intro: str = "") -> Path:
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>aekit {__version__} · {_dt.datetime.now():%Y-%m-%d %H:%M}</p>",
    ]
    if intro:
        parts.append(f"<p>{intro}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{t}</p>" for t in s.text]
        parts += [t.html() for t in s.tables]
        for fig, caption in s.figures:
            if fig is not None and Path(fig).exists():
                parts.append(f"<figure>{_img(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))
    return Path(path)
