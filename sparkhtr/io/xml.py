"""XML read by local name, so that every namespace version of a format (or none) reads the same.

PAGE and ALTO files come in several schema versions, each with its own namespace URI; matching
elements by their local name lets one reader take them all. Parsing is the standard library's
expat parser: it never fetches external entities or DTDs, and expat 2.4 and later refuse entity
expansions that blow up ("billion laughs": "limit on input amplification factor"), so a hostile
file costs a ``ParseError``, not the machine.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

__all__ = ["read_xml", "local_name", "children", "child", "descendants"]


def read_xml(path: str | Path) -> ET.Element:
    """The root element of the XML file ``path``; ``ET.ParseError`` or ``OSError`` when it cannot be read."""
    return ET.parse(path).getroot()


def local_name(element: ET.Element) -> str:
    """The element's tag without its namespace; "" for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element, name: str) -> list[ET.Element]:
    """The direct children named ``name``, in document order."""
    return [c for c in element if local_name(c) == name]


def child(element: ET.Element, name: str) -> ET.Element | None:
    """The first direct child named ``name``, or None."""
    for c in element:
        if local_name(c) == name:
            return c
    return None


def descendants(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Elements named ``name`` below ``element`` (not itself), in document order."""
    for e in element.iter():
        if e is not element and local_name(e) == name:
            yield e
