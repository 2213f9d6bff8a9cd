"""glibc's allocator tuned for reading a corpus: peak memory that does not grow with the
corpus, and what the read freed handed back before training allocates. Elsewhere (another
platform or C library) every function here does nothing."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h


def fix_large_block_threshold() -> None:
    """glibc's malloc serves blocks above a threshold from their own mappings, handed
    back to the system when freed, and raises that threshold to the size of each such
    block freed. The arrays of each piece then come from the heap, which grows with
    every piece read: fixed at 1 MiB, peak memory no longer grows with the corpus
    (docs/benchmarks.md, "Reading a large corpus"). Other platforms keep their allocator as it is."""
    _call_glibc("mallopt", _M_MMAP_THRESHOLD, 1 << 20)


def return_freed_memory() -> None:
    """Hand the heap's free pages back to the system once the corpus is read: the many small
    blocks the read freed (counts, token lists) otherwise stay in the process, under the model
    and optimizer that training allocates next (docs/benchmarks.md, "Memory")."""
    _call_glibc("malloc_trim", 0)


def _call_glibc(name: str, *arguments: int) -> None:
    """glibc's allocator function `name`, on Linux; elsewhere (or on another C library) nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError, TypeError):
            getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)(*arguments)

