"""One self-contained HTML page (figures embedded as base64 PNG)."""
from __future__ import annotations

import base64
import datetime as _dt
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from aekit import __version__
from aekit.runs import atomic_write_bytes

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0} td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left}
figure{margin:1em 0} figcaption{color:#555;font-size:.9em} img{max-width:100%}
.note{color:#555;font-size:.9em} .warn{color:#b00020} code{background:#f4f4f4;padding:0 .2em}
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

    Examples
    --------
    >>> Table(["model", "mse"], [["pca", 0.0123456], ["ae<2>", 0.01]]).html()
    '<table><tr><th>model</th><th>mse</th></tr><tr><td>pca</td><td>0.01235</td></tr><tr><td>ae&lt;2&gt;</td><td>0.01</td></tr></table>'
    """

    headers: list[str]
    rows: list[list]
    caption: str = ""
    title: str = ""

    def html(self) -> str:
        """The table as an HTML ``<table>`` element, every cell escaped."""

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
    """One section of a report: a heading, paragraphs, tables and figures, in that order.

    Parameters
    ----------
    title : str
        The heading.
    text : list of str, default []
        Paragraphs; they may hold simple inline HTML (not escaped).
    tables : list of Table, default []
    figures : list of (pathlib.Path, str), default []
        PNG files and their captions; a missing file is left out of the page.
    """

    title: str
    text: list[str] = field(default_factory=list)  # paragraphs; may hold simple inline HTML
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'


def write_report(path: str | os.PathLike, title: str, sections: list[Section], intro: str = "") -> Path:
    """Write one self-contained HTML page (figures embedded as base64 PNG), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file.
    title : str
        The page's title and first heading.
    sections : list of Section
        The sections, in order.
    intro : str, default ""
        A paragraph under the title (may hold inline HTML).

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
    >>> "<h2>Errors</h2>" in text, "<td>0.5</td>" in text
    (True, True)
    """
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
    # undecodable names (surrogate escapes from file names) are written as U+FFFD, not refused
    atomic_write_bytes(path, "\n".join(parts).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                       .encode("utf-8"))
    return Path(path)
