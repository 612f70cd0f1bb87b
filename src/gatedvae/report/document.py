"""A report built once as blocks, written as Markdown (renders on GitHub) and as one
self-contained HTML file (figures embedded as base64), so the two never disagree."""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Report:
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", list(items)))

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        self.blocks.append(("table", ([str(h) for h in header], [[_fmt(c) for c in r] for r in rows])))

    def figures(self, items: list[tuple[Path, str]]) -> None:
        """Images side by side, each (path, caption)."""
        self.blocks.append(("figures", [(Path(p), c) for p, c in items]))

    def code(self, text: str, language: str = "") -> None:
        self.blocks.append(("code", (language, text)))

    def markdown(self, text: str) -> None:
        """Add Markdown made elsewhere (tables, bullets, paragraphs) as blocks."""
        lines = text.strip("\n").splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("|"):
                rows = []
                while i < len(lines) and lines[i].startswith("|"):
                    cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                    if not all(set(c) <= set("-: ") for c in cells):
                        rows.append(cells)
                    i += 1
                self.blocks.append(("table", (rows[0], rows[1:])))
            elif line.startswith("- "):
                items = []
                while i < len(lines) and lines[i].startswith("- "):
                    items.append(lines[i][2:])
                    i += 1
                self.bullets(items)
            else:
                if line.strip():
                    self.paragraph(line)
                i += 1

    def to_markdown(self, relative_to: Path) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value
                out += ["#" * level + " " + text, ""]
            elif kind == "paragraph":
                out += [value, ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                header, rows = value
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
            elif kind == "figures":
                header = [caption for _, caption in value]
                cells = [f"![{c}]({os.path.relpath(p, relative_to)})" for p, c in value]
                out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                        "| " + " | ".join(cells) + " |", ""]
            elif kind == "code":
                language, text = value
                out += [f"```{language}", text.rstrip("\n"), "```", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        body = [f"<h1>{e(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text = value
                body.append(f"<h{level}>{e(text)}</h{level}>")
            elif kind == "paragraph":
                body.append(f"<p>{_inline(value)}</p>")
            elif kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                header, rows = value
                body.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr>"
                            + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
                                      for r in rows) + "</table>")
            elif kind == "figures":
                cells = []
                for path, caption in value:
                    data = base64.b64encode(Path(path).read_bytes()).decode()
                    cells.append(f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
                                 f"<figcaption>{e(caption)}</figcaption></figure>")
                body.append("<div class='row'>" + "".join(cells) + "</div>")
            elif kind == "code":
                body.append(f"<pre><code>{e(value[1])}</code></pre>")
        style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.4}"
                 "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
                 "padding:3px 8px;text-align:left}th{background:#f3f3f3}.row{display:flex;"
                 "flex-wrap:wrap;gap:1em}figure{margin:0}img{max-width:560px}"
                 "pre{background:#f6f6f6;padding:1em;overflow:auto}")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(self.title)}</title>"
                f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else str(value)


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** in HTML; everything else escaped."""
    import re
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)
