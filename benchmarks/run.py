"""Time minidl against PyTorch on the same work; print and save a table.

    python -m benchmarks.run [--device cpu|cuda] [--quick] [--repeats N]
                             [--threads N] [--unpin-openblas] [--cases A,B]

One worker process per framework (``benchmarks/worker.py``); for each case
the runs alternate, minidl then PyTorch, so both see the same load from
whatever else the machine is doing. Reported per case: the median wall time
of each framework, the ratio minidl/PyTorch of the medians, and the median
process CPU time (less disturbed by other jobs when the machine is shared).
Peak memory of the ResNet-20 training step is measured in a fresh process
per framework. Results go to benchmarks/results/<device>-<date>[-unpinned]
.json and .md. See benchmarks/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from minidl.serialization import atomic_write

from .cases import CASES, FINETUNE_CASES, MODEL_CASES
from .worker import describe_blas

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
FRAMEWORKS = ("minidl", "torch")
PINNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
PAUSE_SECONDS = 0.15


def child_environment(framework, args):
    """The environment of a worker: thread counts, and for minidl without the
    OpenBLAS kernel pin when --unpin-openblas is given."""
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    if framework == "minidl" and args.unpin_openblas:
        for name in PINNING_VARIABLES:
            env.pop(name, None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def worker_command(framework, args, *extra):
    return [sys.executable, "-m", "benchmarks.worker", "--framework", framework,
            "--device", args.device, "--threads", str(args.threads), *extra]


class Worker:
    """A running worker process and its request/reply line protocol."""

    def __init__(self, framework, args):
        self.framework = framework
        self.process = subprocess.Popen(
            worker_command(framework, args), cwd=ROOT,
            env=child_environment(framework, args), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the {} worker died (see its messages above)"
                               .format(self.framework))
        return json.loads(line)

    def close(self):
        try:
            self.ask(cmd="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.process.wait(timeout=30)


def measure_memory(framework, args, case="resnet20_train", steps=3):
    """Peak memory of the training step, in a fresh process (see worker)."""
    completed = subprocess.run(
        worker_command(framework, args, "--memory", case, "--steps", str(steps)),
        cwd=ROOT, env=child_environment(framework, args),
        stdout=subprocess.PIPE, text=True, timeout=300)
    if completed.returncode != 0:
        return {"error": "exit status {}".format(completed.returncode)}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def summarise(times):
    """Median, min and max of the runs' times per step (a fine-tuning run
    times several steps)."""
    walls = [t["wall"] / t.get("steps", 1) for t in times]
    cpus = [t["cpu"] / t.get("steps", 1) for t in times]
    return {"median_ms": 1e3 * statistics.median(walls),
            "min_ms": 1e3 * min(walls), "max_ms": 1e3 * max(walls),
            "cpu_median_ms": 1e3 * statistics.median(cpus), "runs": len(times),
            "steps_per_run": times[0].get("steps", 1),
            "wall_ms": [round(1e3 * w, 3) for w in walls],
            "cpu_ms": [round(1e3 * c, 3) for c in cpus]}


def time_cases(workers, names, args, log):
    results = {}
    for name in names:
        model = name in MODEL_CASES
        repeats = args.repeats or (
            (3 if args.quick else 9) if model else (5 if args.quick else 21))
        warmups = 1 if (model or args.quick) else 2
        entry = {"description": CASES[name]}
        for fw, worker in workers.items():
            reply = worker.ask(cmd="setup", case=name,  # includes one run
                               data=args.data)
            if "error" in reply:
                entry[fw] = {"error": reply["error"]}
        live = {fw: w for fw, w in workers.items() if fw not in entry}
        times = {fw: [] for fw in live}
        # Runs alternate in blocks (minidl, then PyTorch, then minidl...),
        # one run a block for the models, a few for the small layers, each
        # block started by an untimed run. Between blocks a pause lets the
        # idle process's threads stop busy-waiting (OpenBLAS and OpenMP
        # threads spin for up to ~0.1 s after their work), so that they do
        # not steal a core from the other framework's timed runs.
        block = 1 if model else 4
        for _ in range(warmups):
            for worker in live.values():
                worker.ask(cmd="run")
        while live and min(len(times[fw]) for fw in live) < repeats:
            for fw, worker in list(live.items()):
                time.sleep(PAUSE_SECONDS)
                if not model:
                    worker.ask(cmd="run")
                for _ in range(block):
                    reply = worker.ask(cmd="run")
                    if "error" in reply:
                        entry[fw] = {"error": reply["error"]}
                        del live[fw]
                        break
                    times[fw].append(reply)
        for fw in live:
            entry[fw] = summarise(times[fw])
        if all("median_ms" in entry.get(fw, {}) for fw in FRAMEWORKS):
            entry["ratio"] = entry["minidl"]["median_ms"] / entry["torch"]["median_ms"]
            entry["cpu_ratio"] = (entry["minidl"]["cpu_median_ms"] /
                                  entry["torch"]["cpu_median_ms"])
        results[name] = entry
        log(format_row(name, entry))
    return results


def cell(entry, key):
    if "error" in entry:
        return "error"
    return "{:.1f}".format(entry[key])


def format_row(name, entry):
    m, t = entry.get("minidl", {"error": "-"}), entry.get("torch", {"error": "-"})
    ratio = "{:.2f}".format(entry["ratio"]) if "ratio" in entry else "-"
    cpu_ratio = "{:.2f}".format(entry["cpu_ratio"]) if "cpu_ratio" in entry else "-"
    spread = "-"
    if "median_ms" in m:
        spread = "{:.0f}-{:.0f}".format(m["min_ms"], m["max_ms"])
    return "| {} | {} | {} | {} | **{}** | {} | {} |".format(
        name, cell(m, "median_ms"), spread, cell(t, "median_ms"), ratio,
        cpu_ratio, CASES[name])


def markdown(report):
    lines = ["# minidl vs PyTorch, {} ({})".format(report["device"], report["date"]),
             "",
             "Command: `{}`".format(report["command"]),
             "",
             "Threads: {} for both. OpenBLAS pin in the minidl process: {}. "
             "NumPy BLAS in the minidl process: {}.".format(
                 report["threads"], report["openblas_pin"], report["minidl_blas"]),
             "Load average before / after: {} / {}.".format(
                 report["load_before"], report["load_after"]),
             "",
             "Median wall time in ms (runs alternate between the two processes); "
             "`ratio` = minidl / PyTorch of the medians, `cpu ratio` the same "
             "with the process CPU time.",
             "",
             "| case | minidl ms | minidl min-max | PyTorch ms | ratio | cpu ratio | what |",
             "|---|---|---|---|---|---|---|"]
    for name, entry in report["cases"].items():
        lines.append(format_row(name, entry))
    memory = report.get("memory")
    if memory:
        lines += ["", "Peak resident memory of the ResNet-20 training step "
                  "(fresh process per framework, 3 steps; increase = peak RSS "
                  "minus the RSS after imports, model and data):", "",
                  "| framework | baseline MiB | peak MiB | increase MiB |",
                  "|---|---|---|---|"]
        for fw in FRAMEWORKS:
            m = memory.get(fw, {})
            if "peak_rss" in m:
                lines.append("| {} | {:.0f} | {:.0f} | {:.0f} |".format(
                    fw, m["baseline_rss"] / 2**20, m["peak_rss"] / 2**20,
                    m["peak_increase"] / 2**20))
            else:
                lines.append("| {} | {} | | |".format(fw, m.get("error", "-")))
        if "increase_ratio" in memory:
            lines += ["", "Increase ratio minidl / PyTorch: **{:.2f}**; peak "
                      "RSS ratio: {:.2f}.".format(memory["increase_ratio"],
                                                  memory["peak_ratio"])]
    return "\n".join(lines) + "\n"


def load_average():
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats (about 2 minutes on 2 cores)")
    parser.add_argument("--repeats", type=int,
                        help="timed runs per case and framework (default: "
                        "9 for models, 21 for layers; 3/5 with --quick)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both frameworks (default: all cores)")
    parser.add_argument("--unpin-openblas", action="store_true",
                        help="unset OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE in the "
                        "minidl process, so OpenBLAS picks its own kernels")
    parser.add_argument("--cases", help="comma-separated subset of: " +
                        ", ".join(CASES))
    parser.add_argument("--data", help="an image folder (e.g. "
                        "../shared/data/cifar10-jpg/train): adds the "
                        "fine-tuning cases, which need one")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", help="results file stem; a bare name goes "
                        "in benchmarks/results/ (default: "
                        "<device>-<date>[-unpinned])")
    args = parser.parse_args(argv)
    names = args.cases.split(",") if args.cases else [
        name for name in CASES if args.data or name not in FINETUNE_CASES]
    for name in names:
        if name not in CASES:
            parser.error("unknown case {!r}; known: {}".format(name, ", ".join(CASES)))
        if name in FINETUNE_CASES and not args.data:
            parser.error(f"case {name} needs --data (an image folder)")
    if args.data and not os.path.isdir(args.data):
        parser.error(f"--data {args.data}: no such folder")

    def log(text):
        print(text, flush=True)

    date = datetime.date.today().isoformat()
    pinned = all(os.environ.get(v) for v in PINNING_VARIABLES)
    report = {"device": args.device, "date": date, "threads": args.threads,
              "command": " ".join(["python -m benchmarks.run"] + sys.argv[1:]),
              "machine": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "load_before": load_average(),
              "openblas_pin": ("unset by --unpin-openblas" if args.unpin_openblas
                               else ", ".join("{}={}".format(v, os.environ.get(v))
                                              for v in PINNING_VARIABLES)
                               if pinned else "not set")}
    started = time.time()
    workers = {fw: Worker(fw, args) for fw in FRAMEWORKS}
    try:
        report["workers"] = {fw: w.ask(cmd="info") for fw, w in workers.items()}
        report["minidl_blas"] = describe_blas(
            report["workers"]["minidl"].get("blas"))
        log("minidl's NumPy BLAS: {}".format(report["minidl_blas"]))
        log("| case | minidl ms | minidl min-max | PyTorch ms | ratio | cpu ratio | what |")
        log("|---|---|---|---|---|---|---|")
        report["cases"] = time_cases(workers, names, args, log)
    finally:
        for worker in workers.values():
            worker.close()
    if not args.no_memory:
        memory = {fw: measure_memory(fw, args) for fw in FRAMEWORKS}
        if all("peak_increase" in memory[fw] for fw in FRAMEWORKS):
            memory["increase_ratio"] = (memory["minidl"]["peak_increase"] /
                                        memory["torch"]["peak_increase"])
            memory["peak_ratio"] = (memory["minidl"]["peak_rss"] /
                                    memory["torch"]["peak_rss"])
        report["memory"] = memory
    report["load_after"] = load_average()
    report["seconds"] = round(time.time() - started, 1)
    stem = args.out or "{}-{}{}".format(
        args.device, date, "-unpinned" if args.unpin_openblas else "")
    if not os.path.dirname(stem):
        stem = os.path.join(RESULTS, stem)
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    text = markdown(report)
    atomic_write(stem + ".json",
                 lambda f: f.write(json.dumps(report, indent=1).encode()))
    atomic_write(stem + ".md", lambda f: f.write(text.encode()))
    log("")
    log(text)
    log("Written: {}.json and .md ({} s)".format(stem, report["seconds"]))


if __name__ == "__main__":
    main()
