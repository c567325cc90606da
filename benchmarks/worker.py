"""One framework's benchmark process, driven by benchmarks/run.py.

    python -m benchmarks.worker --framework minidl|torch --device cpu|cuda
        --threads N            # serve requests, one JSON object a line
    python -m benchmarks.worker ... --memory CASE --steps S
                               # measure peak memory of CASE and exit

Requests on stdin: {"cmd": "info"}, {"cmd": "setup", "case": NAME},
{"cmd": "run"} (one timed run of the case set up last), {"cmd": "quit"};
a setup may carry "data" (the image folder of the fine-tuning cases).
Each gets one JSON reply on stdout; everything else the process prints goes
to stderr so it cannot garble the replies.
"""
import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
import traceback


def limit_threads(framework, threads):
    """The same thread count for both frameworks: minidl's own threads
    (``minidl.set_num_threads``, which also sets its BLAS to one thread),
    the intra-op threads of PyTorch."""
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        import minidl
        minidl.set_num_threads(threads)


def info(framework, device):
    """Versions, and which BLAS (library, kernel, threads) NumPy really uses."""
    import numpy
    result = {"framework": framework, "device": device,
              "python": platform.python_version(), "numpy": numpy.__version__,
              "pid": os.getpid(),
              "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
              "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    if framework == "torch":
        import torch
        result["torch"] = torch.__version__
        result["torch_threads"] = torch.get_num_threads()
        if device == "cuda":
            result["cudnn"] = torch.backends.cudnn.version()
            result["gpu"] = torch.cuda.get_device_name()
    else:
        import minidl  # noqa: F401
        if device == "cuda":
            import cupy
            result["cupy"] = cupy.__version__
    try:
        import threadpoolctl
        result["blas"] = [
            {key: pool.get(key) for key in ("internal_api", "version",
                                            "architecture", "num_threads")}
            for pool in threadpoolctl.threadpool_info()]
    except ImportError:
        result["blas"] = "threadpoolctl not installed"
    return result


def describe_blas(pools):
    """One line for the "blas" entry of info(): library, version, kernel
    and threads of each BLAS pool, or the entry itself when it is a note."""
    if not isinstance(pools, list):
        return pools
    return ", ".join("{} {} {} x{}".format(p["internal_api"], p["version"],
                                           p["architecture"], p["num_threads"])
                     for p in pools)


def current_rss_bytes():
    """The resident set size now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    """The highest resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_memory(framework, device, name, steps):
    """Peak memory of `steps` runs of case `name`: the resident set's high
    mark after the runs minus its size before them (after imports, model and
    data), plus the device allocator's peak on a GPU."""
    from . import cases
    case = cases.build(framework, name, device)
    gc.collect()
    baseline = current_rss_bytes()
    for _ in range(steps):
        if case.prepare is not None:
            case.prepare()
        case.run()
    result = {"baseline_rss": baseline, "peak_rss": peak_rss_bytes()}
    result["peak_increase"] = result["peak_rss"] - baseline
    if device == "cuda":
        if framework == "torch":
            import torch
            result["device_peak"] = torch.cuda.max_memory_allocated()
        else:
            import cupy
            # CuPy's pool keeps every block it ever needed: its size is the
            # high mark of what the steps held at once.
            result["device_peak"] = cupy.get_default_memory_pool().total_bytes()
    return result


def serve(framework, device, reply):
    from . import cases
    case = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            command = request["cmd"]
            if command == "quit":
                return
            if command == "info":
                reply(info(framework, device))
            elif command == "setup":
                case = None
                gc.collect()
                case = cases.build(framework, request["case"], device,
                                   request.get("data"))
                if case.check is not None:
                    case.check()  # also the first warm-up run
                reply({"ok": True})
            elif command == "run":
                if case.prepare is not None:
                    case.prepare()
                wall, cpu = time.perf_counter(), time.process_time()
                case.run()
                cpu = time.process_time() - cpu
                wall = time.perf_counter() - wall
                reply({"wall": wall, "cpu": cpu, "steps": case.steps})
            else:
                reply({"error": "unknown command {!r}".format(command)})
        except Exception as error:  # the parent reports it and goes on
            traceback.print_exc()
            reply({"error": "{}: {}".format(type(error).__name__, error)})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--framework", choices=["minidl", "torch"], required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--memory", metavar="CASE")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    # Replies go to the real stdout; any other print goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    limit_threads(args.framework, args.threads)
    if args.memory:
        reply(measure_memory(args.framework, args.device, args.memory,
                             args.steps))
    else:
        serve(args.framework, args.device, reply)


if __name__ == "__main__":
    main()
