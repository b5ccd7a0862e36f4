"""A report as data (sections of text, tables and pictures), written as Markdown and as one self-contained HTML page.

``xpnet run`` builds its report once as a :class:`Document` and writes it three ways: ``report.json``
(the tables as data), ``report.md`` and ``index.html``, so the three cannot disagree. The page
embeds its pictures (base64 PNG) and its style, and has no script: it opens offline, from a mail
attachment or a CI artifact as well as from the folder.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Table:
    """A table: ``name`` identifies it (the page's ``id``, the key in report.json), cells are text."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name}: a row of {len(row)} cells under {len(self.columns)} columns")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "columns": list(self.columns),
                "rows": [list(row) for row in self.rows], "notes": list(self.notes)}

    def markdown(self) -> str:
        cells = [self.columns, tuple("---" for _ in self.columns), *self.rows]
        lines = [f"**{self.title}**", ""] + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in cells]
        return "\n".join(lines + ([""] + [f"- {note}" for note in self.notes] if self.notes else []))

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>\n" for row in self.rows)
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        return (f'<table id="{html.escape(self.name)}">\n<caption>{html.escape(self.title)}</caption>\n'
                f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
                + (f'<ul class="notes">{notes}</ul>\n' if notes else ""))


@dataclass(frozen=True)
class Picture:
    """A PNG beside the report: ``name`` identifies it, ``path`` is the file."""

    name: str
    title: str
    path: Path

    def markdown(self) -> str:
        return f"![{self.title}]({self.path.name})"

    def html(self) -> str:
        data = base64.b64encode(self.path.read_bytes()).decode("ascii")
        return (f'<figure id="picture-{html.escape(self.name)}"><img alt="{html.escape(self.title)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(self.title)}</figcaption></figure>\n')


@dataclass
class Section:
    """A heading, then paragraphs, tables and pictures in that order."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)


@dataclass
class Document:
    title: str
    intro: list[str]
    sections: list[Section]

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def markdown(self) -> str:
        parts = [f"# {self.title}", *self.intro]
        for s in self.sections:
            parts += [f"## {s.heading}", *s.paragraphs, *(t.markdown() for t in s.tables),
                      *(p.markdown() for p in s.pictures)]
        return "\n\n".join(parts) + "\n"

    def html(self) -> str:
        """One page, style and pictures inside it, no script."""
        body = [f"<h1>{html.escape(self.title)}</h1>\n", *(f"<p>{html.escape(p)}</p>\n" for p in self.intro)]
        for s in self.sections:
            body += [f"<h2>{html.escape(s.heading)}</h2>\n", *(f"<p>{html.escape(p)}</p>\n" for p in s.paragraphs),
                     *(t.html() for t in s.tables), *(p.html() for p in s.pictures)]
        return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f"<title>{html.escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
                + "".join(body) + "</body>\n</html>\n")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
th { background: #f0f0f0; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1rem 0; }
img { max-width: 100%; }
ul.notes { font-size: 0.85rem; color: #555; }
"""
