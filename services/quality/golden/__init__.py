"""The golden set: real speech with reference transcripts and the slices derived from it.

See :mod:`services.quality.golden.corpus`; its names are re-exported here on first use (lazily,
so that ``python -m services.quality.golden.corpus`` does not import the module twice).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BUILD_VERSION", "SLICES", "SPLITS", "GoldenItem", "build", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from services.quality.golden import corpus

        return getattr(corpus, name)
    raise AttributeError(name)
