"""One self-contained HTML page (figures embedded as base64 PNG): a table of contents with
anchors, sections of text, tables and figures, and inline interactive blocks (no network)."""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from aekit import __version__
from aekit.runs import atomic_write_bytes

MIN_FIGURE_WIDTH = 600  # px: a narrower picture (a grid of small tiles) is shown enlarged to read it

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%;height:auto}
img.pixels{image-rendering:pixelated}
.note{color:#555;font-size:.9em} .warn{color:#b00020} code{background:#f4f4f4;padding:0 .2em}
nav.toc{background:#fafafa;border:1px solid #e4e4e4;padding:.4em 1em;margin:1em 0} nav.toc ol{margin:.3em 0}
.verdict{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
.facts td{text-align:left} .facts td:first-child{font-weight:600}
.table-wrap{overflow-x:auto}
@media print{.interactive{display:none} nav.toc{display:none}}
"""


@dataclass
class Table:
    """A table for the report and the console: headers, rows, a caption and (console) a title.

    Parameters
    ----------
    headers : list of str
        Column headers.
    rows : list of list
        One list of cells per row; floats are shown with 4 significant digits.
    caption : str, default ""
        Shown above the table in the report.
    title : str, default ""
        Shown above the table in the console.
    css_class : str, default ""
        The HTML table's class (e.g. "facts").

    Examples
    --------
    >>> Table(["model", "mse"], [["pca", 0.0123456], ["ae<2>", 0.01]]).html()
    '<table><tr><th>model</th><th>mse</th></tr><tr><td>pca</td><td>0.01235</td></tr><tr><td>ae&lt;2&gt;</td><td>0.01</td></tr></table>'
    """

    headers: list[str]
    rows: list[list]
    caption: str = ""
    title: str = ""
    css_class: str = ""

    def html(self) -> str:
        """The table as an HTML ``<table>`` element, every cell escaped."""

        def cell(v) -> str:
            if isinstance(v, float):
                return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
            return html.escape(str(v))

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in self.rows)
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        cls = f" class='{html.escape(self.css_class)}'" if self.css_class else ""
        return f"<table{cls}>{cap}<tr>{head}</tr>{body}</table>"


@dataclass
class Section:
    """One section of a report: a heading, paragraphs, tables, figures and inline blocks, in that order.

    Parameters
    ----------
    title : str
        The heading (and the table of contents' entry).
    text : list of str, default []
        Paragraphs; they may hold simple inline HTML (not escaped).
    tables : list of Table, default []
    figures : list of (pathlib.Path, str), default []
        PNG files and their captions; a missing file is left out of the page.
    blocks : list of str, default []
        HTML shown after the figures as it is (an interactive latent map); it must not load
        anything from the network.
    anchor : str, default ""
        The heading's id; default: made from the title (unique in the page).
    """

    title: str
    text: list[str] = field(default_factory=list)  # paragraphs; may hold simple inline HTML
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)
    blocks: list[str] = field(default_factory=list)
    anchor: str = ""


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, read from the header; None for anything else.

    Examples
    --------
    >>> png_size(b"\\x89PNG\\r\\n\\x1a\\n" + b"\\0\\0\\0\\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big"))
    (640, 480)
    >>> png_size(b"GIF89a") is None
    True
    """
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _img(path: Path) -> str:
    raw = Path(path).read_bytes()
    data = base64.b64encode(raw).decode("ascii")
    alt = html.escape(Path(path).name)
    size = png_size(raw)
    if size is not None and 0 < size[0] < MIN_FIGURE_WIDTH:
        # a small picture is a grid of small tiles: enlarge it by a whole factor, pixels kept sharp
        scale = -(-MIN_FIGURE_WIDTH // size[0])
        return (f'<img class="pixels" src="data:image/png;base64,{data}" alt="{alt}" '
                f'width="{size[0] * scale}" height="{size[1] * scale}">')
    return f'<img src="data:image/png;base64,{data}" alt="{alt}">'


def anchor_for(title: str, taken: set[str]) -> str:
    """An id for a heading: its words in lower case joined by '-', made unique against `taken`
    (which it is added to).

    Examples
    --------
    >>> taken = set()
    >>> anchor_for("AE, 8-D code", taken), anchor_for("AE, 8-D code", taken), anchor_for("ρ = 0.05", taken)
    ('ae-8-d-code', 'ae-8-d-code-2', 'ρ-0-05')
    """
    base = "-".join(re.findall(r"\w+", title.lower())) or "section"
    anchor, i = base, 1
    while anchor in taken:
        i += 1
        anchor = f"{base}-{i}"
    taken.add(anchor)
    return anchor


def page_html(title: str, sections: list[Section], intro: str = "") -> str:
    """The page as text: title, intro, a table of contents (two sections or more), the sections.

    Parameters
    ----------
    title : str
        The page's title and first heading.
    sections : list of Section
        The sections, in order.
    intro : str, default ""
        Shown under the title, before the table of contents (may hold HTML: paragraphs or inline).

    Returns
    -------
    str

    Examples
    --------
    >>> text = page_html("Digits", [Section("Summary"), Section("AE, 2-D")])
    >>> '<a href="#ae-2-d">AE, 2-D</a>' in text, '<h2 id="ae-2-d">' in text, 'name="viewport"' in text
    (True, True, True)
    """
    taken: set[str] = set()
    anchors = [anchor_for(s.anchor or s.title, taken) for s in sections]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>aekit {__version__} · {_dt.datetime.now():%Y-%m-%d %H:%M}</p>",
    ]
    if intro:
        parts.append(intro if intro.lstrip().startswith("<") else f"<p>{intro}</p>")
    if len(sections) > 1:
        items = "".join(f'<li><a href="#{a}">{html.escape(s.title)}</a></li>' for s, a in zip(sections, anchors))
        parts.append(f"<nav class='toc'><b>Contents</b><ol>{items}</ol></nav>")
    for s, a in zip(sections, anchors):
        parts.append(f'<h2 id="{a}">{html.escape(s.title)}</h2>')
        parts += [f"<p>{t}</p>" for t in s.text]
        parts += [f"<div class='table-wrap'>{t.html()}</div>" for t in s.tables]
        for fig, caption in s.figures:
            if fig is not None and Path(fig).exists():
                parts.append(f"<figure>{_img(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>")
        parts += s.blocks
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | os.PathLike, title: str, sections: list[Section], intro: str = "") -> Path:
    """Write one self-contained HTML page (figures embedded as base64 PNG), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file.
    title : str
        The page's title and first heading.
    sections : list of Section
        The sections, in order; with two or more, a table of contents links to them.
    intro : str, default ""
        Shown under the title (may hold HTML).

    Returns
    -------
    pathlib.Path
        `path`.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "report.html"
    >>> page = write_report(out, "Digits", [Section("Errors", tables=[Table(["model", "mse"], [["pca", 0.5]])])])
    >>> text = page.read_text()
    >>> '<h2 id="errors">Errors</h2>' in text, "<td>0.5</td>" in text
    (True, True)
    """
    text = page_html(title, sections, intro)
    # undecodable names (surrogate escapes from file names) are written as U+FFFD, not refused
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode("utf-8"))
    return Path(path)
