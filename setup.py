"""The compiled beam search (sparkhtr/text/_beam.c); everything else is in pyproject.toml.

Optional: without a C compiler the package installs as pure Python and decodes with the Python
beam search (same texts, slower). Floating point is kept exact (no contraction into FMAs), so the
compiled search reads the same texts as the Python one.
"""

import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]
beam = Extension(
    "sparkhtr.text._beam",
    sources=["sparkhtr/text/_beam.c"],
    depends=["sparkhtr/text/_beam_lm.h", "sparkhtr/text/_beam_search.h"],
    extra_compile_args=args,
    optional=True,
)
setup(ext_modules=[beam])
