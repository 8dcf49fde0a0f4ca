"""Write a benchmark's section into a Markdown file, replacing the section of the same heading."""

from __future__ import annotations

from pathlib import Path


def replace_section(doc: Path, heading: str, section: str) -> None:
    """Put `section` (starting with `heading`) where that heading's section was, else at the end."""
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if f"{heading}\n" in text:
        start = text.index(f"{heading}\n")
        nxt = text.find("\n## ", start + len(heading))
        text = text[:start] + section + (text[nxt + 1 :] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text, encoding="utf-8")
