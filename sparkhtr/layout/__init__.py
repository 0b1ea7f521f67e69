"""Layout: where the text lines are in a paragraph image (numpy only; no model)."""

from sparkhtr.layout.draw import draw_lines
from sparkhtr.layout.lines import LineBox, find_lines

__all__ = ["LineBox", "find_lines", "draw_lines"]
