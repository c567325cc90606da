"""Scratch buffers reused from one call to the next.

Convolution needs large temporary arrays (the column matrix of im2col is
KH*KW times the size of its chunk of the input). A fresh array that size
can cost more than the copy that fills it, because the operating system
hands the memory over page by page on first touch. So each temporary has a
named slot, and the array in that slot is kept and reused (grown when a
larger one is asked for).

Rules for users of a slot: the array comes uninitialised; it is valid until
the next request for the same slot, so never return it or keep it (copy
what must survive). Slots are per thread, so the threads of
:mod:`minidl.parallel` never share one.
"""
import threading

from ...backend import device_of, get_array_module

# Buffers larger than this are not kept: a one-off huge convolution should
# not pin its scratch memory for the rest of the process.
MAX_KEPT_BYTES = 512 * 2 ** 20

_local = threading.local()


def scratch(slot, shape, like):
    """An uninitialised C-contiguous array of `shape`, with the dtype and
    device of array `like`, that slot `slot` keeps for the next call."""
    buffers = _local.__dict__.setdefault("buffers", {})
    xp = get_array_module(like)
    size = 1
    for n in shape:
        size *= n
    key = (slot, like.dtype.str, str(device_of(like)))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffers.pop(key, None)  # let the old one go before allocating
        buffer = xp.empty(size, dtype=like.dtype)
        if buffer.nbytes <= MAX_KEPT_BYTES:
            buffers[key] = buffer
    return buffer[:size].reshape(shape)
