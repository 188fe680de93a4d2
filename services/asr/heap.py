"""Give the C heap's free memory back to the system after a batch.

Decoding a batch allocates and frees hundreds of MB of audio and feature buffers in
CTranslate2 and numpy. glibc keeps most of what is freed in its arenas, so a worker's RSS
creeps up over hours with memory in use flat (bench/worker_memory.py: RSS 1.50x over 3 h
while glibc's in-use bytes stayed flat; with a trim after every batch 1.02x over 3 h, at the
same CPU cost per audio second). ``malloc_trim(0)`` returns it; on a libc without it
(musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def trim() -> bool:
    """Return free heap memory to the system; whether this libc can."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
