"""Layout: where the text lines are in a paragraph image or a whole page (numpy and Pillow; no model)."""

from sparkhtr.layout.draw import draw_lines
from sparkhtr.layout.lines import LineBox, find_lines
from sparkhtr.layout.page import PageLine, find_page_lines, line_from_polygon

__all__ = ["LineBox", "find_lines", "draw_lines", "PageLine", "find_page_lines", "line_from_polygon"]
