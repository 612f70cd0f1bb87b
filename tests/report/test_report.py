"""The report builder: one set of blocks, Markdown and self-contained HTML that agree."""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gatedvae.atomic import save_figure
from gatedvae.report.document import Report


def _png(path: Path) -> Path:
    fig = Figure(figsize=(1, 1))
    fig.subplots().imshow(np.eye(4))
    save_figure(path, fig)
    return path


def test_markdown_and_html_carry_the_same_content(tmp_path):
    figure = _png(tmp_path / "figs" / "a.png")
    report = Report("Title")
    report.heading("Section")
    report.paragraph("Some `code` and **bold**.")
    report.table(["x", "y"], [[1.23456, None], ["a|b".replace("|", "/"), 2]])
    report.figures([(figure, "a figure")])
    report.code("key: 1\n", "yaml")
    md = report.to_markdown(tmp_path)
    assert md.startswith("# Title\n")
    assert "| x | y |" in md and "| 1.235 | – |" in md
    assert "![a figure](figs/a.png)" in md
    assert "```yaml\nkey: 1\n```" in md
    page = report.to_html()
    assert "<td>1.235</td>" in page and "<code>code</code>" in page and "<b>bold</b>" in page
    assert page.count("data:image/png;base64,") == 1 and "figs/a.png" not in page


def test_markdown_tables_from_elsewhere_become_blocks():
    report = Report("T")
    report.markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\nA line.\n- one\n- two\n")
    kinds = [k for k, _ in report.blocks]
    assert kinds == ["table", "paragraph", "bullets"]
    assert report.blocks[0][1] == (["a", "b"], [["1", "2"]])
    assert "<li>two</li>" in report.to_html()


def test_html_escapes_text():
    report = Report("<script>")
    report.paragraph("a < b & c")
    page = report.to_html()
    assert "<script>" not in page.split("<body>")[1] and "a &lt; b &amp; c" in page
