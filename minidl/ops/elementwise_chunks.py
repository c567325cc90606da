"""Element-wise array work split into chunks that run on minidl's threads.

NumPy runs each element-wise call (``maximum``, ``add``, ``multiply``) on
one core, but it releases Python's global lock while it loops, so two
threads that each handle half of an array really run at once (see
:mod:`minidl.parallel`). An element-wise result does not depend on where
the chunks begin and end, so any split, on any number of threads, gives
the same bits.

Only large arrays are split, and only C-contiguous ones, whose flat view
``reshape(-1)`` needs no copy. Element-wise work is cheap (about a
nanosecond an element), while handing a chunk to another thread costs
tens of microseconds, so an array is split only from
SPLIT_FACTOR * parallel.MIN_CHUNK_ELEMENTS elements (2 ** 18: a megabyte
of float32) and only when minidl has more than one thread. A CuPy array
is never split: ``parallel.map_batch_chunks`` runs it as one chunk in the
calling thread, through the same code.
"""
from .. import parallel

# An array is split from this many times parallel.MIN_CHUNK_ELEMENTS.
SPLIT_FACTOR = 4


def worth_splitting(out, *inputs):
    """Whether `out` and `inputs` (arrays of out's shape) are large enough
    to split over threads and laid out so that their flat views are free."""
    if (out.size < SPLIT_FACTOR * parallel.MIN_CHUNK_ELEMENTS
            or parallel.get_num_threads() == 1):
        return False
    return all(a.shape == out.shape and a.flags.c_contiguous
               for a in (out,) + inputs)


def run_elementwise(work, out, *inputs):
    """Call work(out_part, *input_parts) on chunks of the flat arrays, at
    once on minidl's threads, and return `out`.

    `work` writes its result into out_part (an ``out=`` argument of a
    ufunc), so no temporary array of the full size is made. Arrays not
    worth splitting are handled whole, in one call.
    """
    if not worth_splitting(out, *inputs):
        work(out, *inputs)
        return out
    flat_out = out.reshape(-1)
    flat_inputs = [a.reshape(-1) for a in inputs]

    def chunk(start, stop):
        work(flat_out[start:stop], *[a[start:stop] for a in flat_inputs])

    parallel.map_batch_chunks(chunk, out.size, out.size, out)
    return out
