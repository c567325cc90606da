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
2. cProfile's top functions by own time (tottime), for the details.
"""
import argparse
import cProfile
import io
import os
import pstats
import time
from collections import defaultdict

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


def timed_steps(case, steps):
    """Run `steps` steps; return (total seconds, optimizer seconds, the
    loss.backward seconds) measured around the step's phases."""
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
    import threadpoolctl
    threadpoolctl.threadpool_limits(args.threads)
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
    functions = cprofile_table(case, args.steps, args.top)
    blas = ", ".join("{} {} x{}".format(p["internal_api"], p.get("architecture"),
                                        p["num_threads"])
                     for p in threadpoolctl.threadpool_info())
    text = "\n".join(
        ["# Profile: {} (minidl, CPU)".format(cases.CASES[args.case]), "",
         "Made by `python -m benchmarks.profile --case {} --steps {} "
         "--threads {}`; BLAS: {}; OPENBLAS_CORETYPE={}; load average {}."
         .format(args.case, args.steps, args.threads, blas,
                 os.environ.get("OPENBLAS_CORETYPE"),
                 "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())), "",
         "Without instrumentation: {:.0f} ms per step. {}".format(
             1e3 * plain / args.steps, summary), "",
         "## Exclusive time per op and phase", "",
         "A `forward` in the backward phase is an op run by another op's "
         "backward (e.g. ConvTranspose2d.forward computes dx of Conv2d).", ""]
        + ops + ["", "## cProfile: top functions by own time", ""] + functions)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print(text)
    print("\nWritten:", args.out)


if __name__ == "__main__":
    main()
