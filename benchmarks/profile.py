"""Where the time of a ResNet-20 training step goes, op by op.

    python -m benchmarks.profile [--steps 3] [--threads 2] [--case resnet20_train]
                                 [--out benchmarks/results/profile-resnet20-train.md]

Two views of the same steps (forward, cross-entropy, backward, AdamW):

1. Per op: every ``Function`` subclass's ``forward`` and ``backward`` is
   wrapped with a timer that records its *exclusive* wall time (time spent
   in nested timed calls is subtracted), keyed by phase: a ``forward`` run
   while the engine is inside some ``backward`` (ConvTranspose2d computing
   dx of Conv2d, say) counts under the backward phase. What no op claims
   (the engine's bookkeeping, optimizer, Python glue) is listed as such.
2. Matrix products: ``numpy.matmul`` (which the convolution and linear
   layers call; batch norm's per-channel sums use the ``@`` operator and
   are not counted) is wrapped with a timer, giving the time spent inside
   NumPy's BLAS and the speed it reached on each shape of product. That
   time, divided by the number of threads, is a floor for this way of
   computing: were every copy and element-wise pass free, the step would
   still take that long.
3. cProfile's top functions by own time (tottime), for the details. It
   sees the calling thread only, not the chunks that minidl's other
   threads run (see ``minidl.parallel``).
"""
import argparse
import cProfile
import io
import os
import pstats
import threading
import time
from collections import defaultdict

from minidl.serialization import atomic_write

from .worker import describe_blas, info

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OpTimer:
    """Exclusive wall time per (phase, op, method), by wrapping methods."""

    def __init__(self):
        self.totals = defaultdict(float)
        self.counts = defaultdict(int)
        self.stack = []  # [start, time of nested timed calls]
        self.backward_depth = 0
        self.restore = []

    def wrap(self, cls, method):
        original = cls.__dict__[method]
        timer = self

        def timed(fn_self, *args, **kwargs):
            in_backward = method == "backward" or timer.backward_depth > 0
            phase = "backward" if in_backward else "forward"
            if method == "backward":
                timer.backward_depth += 1
            timer.stack.append([time.perf_counter(), 0.0])
            try:
                return original(fn_self, *args, **kwargs)
            finally:
                start, nested = timer.stack.pop()
                spent = time.perf_counter() - start
                key = (phase, cls.__name__, method)
                timer.totals[key] += spent - nested
                timer.counts[key] += 1
                if timer.stack:
                    timer.stack[-1][1] += spent
                if method == "backward":
                    timer.backward_depth -= 1

        setattr(cls, method, timed)
        self.restore.append((cls, method, original))

    def install(self):
        from minidl.autograd.function import Function
        seen, todo = set(), [Function]
        while todo:
            cls = todo.pop()
            for sub in cls.__subclasses__():
                if sub not in seen:
                    seen.add(sub)
                    todo.append(sub)
        for cls in seen:
            for method in ("forward", "backward"):
                if method in cls.__dict__:
                    self.wrap(cls, method)

    def uninstall(self):
        for cls, method, original in reversed(self.restore):
            setattr(cls, method, original)
        self.restore = []


class MatmulTimer:
    """Wall time and floating-point operations of every numpy.matmul call,
    per (operand shapes) key, by replacing numpy.matmul while installed."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.flops = defaultdict(int)
        self.calls = defaultdict(int)
        self.original = None
        self.lock = threading.Lock()  # minidl's threads multiply at once

    def install(self):
        import numpy
        self.original = original = numpy.matmul
        timer = self

        def timed_matmul(a, b, *args, **kwargs):
            start = time.perf_counter()
            result = original(a, b, *args, **kwargs)
            spent = time.perf_counter() - start
            key = "{} @ {}".format(tuple(numpy.shape(a)), tuple(numpy.shape(b)))
            with timer.lock:
                timer.seconds[key] += spent
                # Each output element is a sum of K products: 2 K operations.
                timer.flops[key] += 2 * numpy.size(result) * numpy.shape(a)[-1]
                timer.calls[key] += 1
            return result

        numpy.matmul = timed_matmul

    def uninstall(self):
        import numpy
        numpy.matmul = self.original


def matmul_table(timer, total, steps, threads, top):
    """The products' time is summed over minidl's threads, which multiply
    at once: it is compared with `threads` times the step's wall time."""
    seconds = sum(timer.seconds.values())
    flops = sum(timer.flops.values())
    summary = ("Matrix products: {:.0f} ms per step, summed over {} thread(s) "
               "({:.0f}% of {} x the step's {:.0f} ms); {:.1f} GFLOP per step "
               "at {:.0f} GFLOP/s per thread on average.".format(
                   1e3 * seconds / steps, threads,
                   100 * seconds / (threads * total), threads,
                   1e3 * total / steps, flops / steps / 1e9,
                   flops / seconds / 1e9))
    lines = ["| operands | thread-ms per step | GFLOP/s per thread | calls per step |",
             "|---|---|---|---|"]
    rows = sorted(timer.seconds.items(), key=lambda item: -item[1])
    for key, spent in rows[:top]:
        lines.append("| `{}` | {:.1f} | {:.0f} | {} |".format(
            key, 1e3 * spent / steps, timer.flops[key] / spent / 1e9,
            timer.calls[key] // steps))
    return summary, lines


def timed_steps(case, steps):
    """Run `steps` steps; return their total wall time in seconds."""
    total = time.perf_counter()
    for _ in range(steps):
        case.run()
    return time.perf_counter() - total


def op_table(timer, total, steps):
    rows = sorted(timer.totals.items(), key=lambda item: -item[1])
    claimed = sum(timer.totals.values())
    by_phase = defaultdict(float)
    for (phase, _, _), seconds in timer.totals.items():
        by_phase[phase] += seconds
    lines = ["| phase | op.method | ms per step | % of step | calls per step |",
             "|---|---|---|---|---|"]
    for (phase, name, method), seconds in rows:
        if seconds / total < 0.002:
            continue
        lines.append("| {} | {}.{} | {:.1f} | {:.1f} | {} |".format(
            phase, name, method, 1e3 * seconds / steps, 100 * seconds / total,
            timer.counts[(phase, name, method)] // steps))
    lines.append("| - | not in any op (engine, optimizer, module calls, glue) "
                 "| {:.1f} | {:.1f} | |".format(1e3 * (total - claimed) / steps,
                                                100 * (total - claimed) / total))
    summary = ("Step: {:.0f} ms; ops' forward (forward phase) {:.0f} ms, "
               "backward phase {:.0f} ms, the rest {:.0f} ms.".format(
                   1e3 * total / steps, 1e3 * by_phase["forward"] / steps,
                   1e3 * by_phase["backward"] / steps,
                   1e3 * (total - claimed) / steps))
    return summary, lines


def cprofile_table(case, steps, top):
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        case.run()
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = os.path.relpath(filename, ROOT) if filename.startswith(ROOT) else \
            os.path.basename(filename)
        rows.append((own, cumulative, calls, "{}:{}({})".format(where, line, name)))
    rows.sort(reverse=True)
    lines = ["| own ms per step | cumulative ms per step | calls per step | function |",
             "|---|---|---|---|"]
    for own, cumulative, calls, label in rows[:top]:
        lines.append("| {:.1f} | {:.1f} | {} | `{}` |".format(
            1e3 * own / steps, 1e3 * cumulative / steps, calls // steps, label))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="resnet20_train")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default=os.path.join(
        ROOT, "benchmarks", "results", "profile-resnet20-train.md"))
    args = parser.parse_args(argv)
    import minidl
    minidl.set_num_threads(args.threads)
    from . import cases
    case = cases.build("minidl", args.case, "cpu")
    case.check()  # warm-up, and float32 throughout
    plain = timed_steps(case, args.steps)
    timer = OpTimer()
    timer.install()
    try:
        total = timed_steps(case, args.steps)
    finally:
        timer.uninstall()
    summary, ops = op_table(timer, total, args.steps)
    products = MatmulTimer()
    products.install()
    try:
        total_with_products = timed_steps(case, args.steps)
    finally:
        products.uninstall()
    products_summary, product_rows = matmul_table(
        products, total_with_products, args.steps, minidl.get_num_threads(),
        args.top)
    functions = cprofile_table(case, args.steps, args.top)
    blas = describe_blas(info("minidl", "cpu")["blas"])
    text = "\n".join(
        ["# Profile: {} (minidl, CPU)".format(cases.CASES[args.case]), "",
         "Made by `python -m benchmarks.profile --case {} --steps {} "
         "--threads {}`; minidl threads: {}; BLAS: {}; OPENBLAS_CORETYPE={}; "
         "load average {}."
         .format(args.case, args.steps, args.threads, minidl.get_num_threads(),
                 blas,
                 os.environ.get("OPENBLAS_CORETYPE"),
                 "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())), "",
         "Without instrumentation: {:.0f} ms per step. {}".format(
             1e3 * plain / args.steps, summary), "",
         "## Exclusive time per op and phase", "",
         "A `forward` in the backward phase is an op run by another op's "
         "backward (e.g. ConvTranspose2d.forward computes dx of Conv2d).", ""]
        + ops + ["", "## Matrix products (NumPy's BLAS)", "",
                 products_summary, ""] + product_rows
        + ["", "## cProfile: top functions by own time", ""] + functions)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write(args.out, lambda f: f.write((text + "\n").encode()))
    print(text)
    print("\nWritten:", args.out)


if __name__ == "__main__":
    main()
