"""ALTO pieces that both the dataset reader (``sparkhtr.data.readers.alto``) and the page line
evaluation (``sparkhtr.layout.evaluate``) need, kept below both."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sparkhtr.io.xml import local_name

__all__ = ["alto_line_text"]


def alto_line_text(line: ET.Element) -> str:
    """Raw text of an ALTO ``TextLine``: its words joined by spaces, hyphens glued on; else its own content."""
    words: list[str] = []
    for element in line:
        name = local_name(element)
        if name == "String":
            words.append(element.attrib.get("CONTENT", ""))
        elif name == "HYP":
            hyphen = element.attrib.get("CONTENT", "")
            if words:
                words[-1] += hyphen
            else:
                words.append(hyphen)
    if words:
        return " ".join(w for w in words if w)
    return line.attrib.get("CONTENT") or (line.text or "")
