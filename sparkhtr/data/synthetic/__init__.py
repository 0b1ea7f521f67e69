"""Synthetic handwriting-like text lines, rendered from handwriting fonts, for pre-training.

Why: transcribed real lines are scarce and cover few words, so SPAN is first trained (or trained
alongside) on an unbounded stream of rendered lines in many hands. Three rules drive the design:

* **The label always matches the ink.** A line is drawn with one font, and its text is first
  reduced to characters that the font really draws: present in the cmap, not mapped to
  ``.notdef``, rendering some ink, and not on the font's blacklist of glyphs that look like
  another character (``&`` drawn as ``+``, ``ß`` as ``B``; see ``/work/shared/fonts/README.md``).
  The image is rendered from exactly the returned string; nothing is dropped afterwards.
* **Item i is a pure function of (seed, i)**, so a data loader with any number of workers, a
  resumed run and a debugging session all see the same lines; nothing is stored.
* **Vertical framing follows the font's ascender/descender band, not the ink.** Real line images
  come from line polygons that span the writing band whatever the words are, so a line of
  x-height letters ("un an") must not be blown up to full height when the model resizes it.
  Horizontally the image is cropped to the ink plus a small random margin.

Rendering is Pillow (FreeType) plus numpy, about 2-4 ms per line on one core.
"""

from sparkhtr.data.synthetic.dataset import SyntheticLines, preview_grid
from sparkhtr.data.synthetic.fonts import (
    DEFAULT_BLACKLIST,
    DEFAULT_EXCLUDE,
    FONT_SUFFIXES,
    JOINED_FONTS,
    FontBank,
    FontInfo,
)
from sparkhtr.data.synthetic.render import LineRenderer
from sparkhtr.data.synthetic.text import TextSource

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_BLACKLIST",
    "FONT_SUFFIXES",
    "JOINED_FONTS",
    "FontInfo",
    "FontBank",
    "TextSource",
    "LineRenderer",
    "SyntheticLines",
    "preview_grid",
]
