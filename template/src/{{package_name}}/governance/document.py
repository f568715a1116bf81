"""A format-neutral document (sections of paragraphs, lists and tables) and its two renderings.

The card's content is assembled once; Markdown and HTML are two views of
it, and each escapes every piece of text in exactly one place, so a tag
value or a ``--reason`` holding markup is shown as text and never becomes
markup in either file.
"""

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Characters that start Markdown syntax inside a line (links, emphasis, code, tables).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#!])")
#: What would make a line a list item or a heading underline: ``- x``, ``+ x``, ``=``, ``1. x``.
_MARKDOWN_BLOCK_START = re.compile(r"^(?:([-+=])|(\d+)\.)")


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header row."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Section:
    """A titled part of the document: paragraphs, then a list, then tables."""

    title: str
    paragraphs: Sequence[str] = ()
    items: Sequence[str] = ()
    tables: Sequence[Table] = field(default_factory=tuple)


@dataclass(frozen=True)
class Document:
    """A title, a one-line subtitle and its sections."""

    title: str
    subtitle: str
    sections: Sequence[Section]


def _md(text: str) -> str:
    """Text as inert inline Markdown: HTML entities for markup, backslashes for syntax."""
    flat = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def _md_block(text: str) -> str:
    """Text as an inert paragraph or list item: not even its first characters start a block."""
    return _MARKDOWN_BLOCK_START.sub(
        lambda found: f"\\{found[1]}" if found[1] else f"{found[2]}\\.", _md(text)
    )


def to_markdown(document: Document) -> str:
    """The document as GitHub-flavoured Markdown."""
    lines = [f"# {_md(document.title)}", "", f"_{_md(document.subtitle)}_", ""]
    for section in document.sections:
        lines += [f"## {_md(section.title)}", ""]
        for paragraph in section.paragraphs:
            lines += [_md_block(paragraph), ""]
        if section.items:
            lines += [*(f"- {_md_block(item)}" for item in section.items), ""]
        for table in (table for table in section.tables if table.rows):
            lines.append("| " + " | ".join(_md(cell) for cell in table.headers) + " |")
            lines.append("|" + "---|" * len(table.headers))
            lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
            lines.append("")
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; line-height: 1.5; }
h1 { margin-bottom: 0; } .subtitle { color: #59636e; margin-top: 0.25rem; }
h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: 0.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.75rem 0; }
th, td { border: 1px solid #d1d9e0; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
"""


def to_html(document: Document) -> str:
    """The document as one self-contained HTML page (inline style, no scripts, no links out)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(document.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(document.title)}</h1>",
        f'<p class="subtitle">{esc(document.subtitle)}</p>',
    ]
    for section in document.sections:
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts += [f"<p>{esc(paragraph)}</p>" for paragraph in section.paragraphs]
        if section.items:
            parts.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in section.items))
            parts.append("</ul>")
        for table in (table for table in section.tables if table.rows):
            head = "".join(f"<th>{esc(cell)}</th>" for cell in table.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
                for row in table.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
