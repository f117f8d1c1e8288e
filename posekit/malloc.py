"""glibc's allocator, tuned for feature maps.

Inference (``optimize_for_inference`` on a CPU) and training (the runner's
process setup) call :func:`keep_freed_memory` once: 5-25% of a CPU forward
and ~10% of a training epoch here went to the kernel faulting in and zeroing
fresh pages for feature maps that the previous step had just given back.
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys

# glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 << 20   # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (process-wide).

    By default glibc gives a freed block of more than 128 kB (later: of more
    than the largest freed so far, up to 32 MB) back to the kernel, and
    trims the heap when its free top passes twice that. A network's feature
    maps are such blocks: each forward then maps fresh pages, and the kernel
    faults in and zeroes every one of them (10-30x more page faults here).
    This sets mmap threshold 32 MB, trim threshold 1 GB and top pad 64 MB, so
    blocks up to 32 MB come from the heap and stay there. The price: resident
    memory does not shrink back after a peak (it stays at the high-water
    mark; it does not grow past it).

    Does nothing (returns False) where the C library is not glibc, or when
    the environment sets malloc tunables itself (``MALLOC_*`` variables or
    ``GLIBC_TUNABLES``): the user's choice wins.

    Returns:
        bool: Whether glibc took the settings.
    """
    if sys.platform != 'linux' or platform.libc_ver()[0] != 'glibc':
        return False
    if 'GLIBC_TUNABLES' in os.environ or any(
            k.startswith('MALLOC_') for k in os.environ):
        return False
    mallopt = ctypes.CDLL(None).mallopt
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, 1 << 30),
        (_M_TOP_PAD, 64 << 20)))
