"""The optional compiled part of zarrkit (the pipeline's loop over chunk files).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built
(no C compiler), zarrkit installs without it and the pipeline runs in pure Python.
"""

import os

from setuptools import Extension, setup

native = Extension(
    "zarrkit.pipeline._native",
    ["src/zarrkit/pipeline/_native.c"],
    optional=True,
    extra_compile_args=["-O2"] if os.name == "posix" else [],
)

setup(ext_modules=[] if os.name == "nt" else [native])
