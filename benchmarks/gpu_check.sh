#!/usr/bin/env bash
# The GPU check: what a run on a GPU has to show, in one go, in under 8
# minutes. Run it from anywhere on a machine with an NVIDIA GPU and CuPy:
#
#     bash benchmarks/gpu_check.sh [DATA]
#
# Steps, each under its own time limit; a step that fails or runs out of
# time is reported and the script goes on with the next one:
#   1. the machine: nvidia-smi, the versions of Python, NumPy, CuPy, torch;
#   2. the test suite on the GPU: MINIDL_TEST_DEVICE=cuda python -m pytest -x;
#   3. the speed benchmark on cuda, minidl and PyTorch ($BENCH_CMD);
#   4. one fine-tuning epoch on the GPU (python -m minidl.finetune).
# Then it writes a Markdown summary to benchmarks/results/gpu-<date>.md
# (steps, results, timings, test counts, the tail of each log); logs go to
# benchmarks/results/gpu-<date>-logs/. Without a GPU, steps 2-4 are skipped
# and the summary says so.
#
# Settings (environment variables):
#   MINIDL_DATA     ImageFolder root for step 4 (or the first argument), e.g.
#                   .../cifar10-jpg/train (45,000 training images after the
#                   default 10% validation split); default: shared/data/
#                   cifar10-jpg/train if the checkout has it
#   MINIDL_WEIGHTS  weights for step 4 (.npz or PyTorch .th); default:
#                   shared/weights/resnet20-12fca82f.th if present
#   PYTHON          the interpreter (default: python3, else python)
#   BENCH_CMD       the benchmark command (default below)
#   TEST_TIMEOUT, BENCH_TIMEOUT, FINETUNE_TIMEOUT: seconds per step
#   TOTAL_BUDGET    seconds for everything (default 470: under 8 minutes)
#   HYPOTHESIS_PROFILE  the tests' Hypothesis profile (default: quick)
#   OUT             if set to a folder, the summary and logs are copied there
# Exit status: 0 when no step failed (skipped steps do not count), else 1.
set -u

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

PYTHON=${PYTHON:-$(command -v python3 || command -v python || echo python3)}
BENCH_CMD=${BENCH_CMD:-"$PYTHON -m benchmarks.run --device cuda --quick"}
BENCH_SCRIPT=${BENCH_SCRIPT:-benchmarks/run.py}  # step 3 is skipped without it
TEST_TIMEOUT=${TEST_TIMEOUT:-270}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-90}
FINETUNE_TIMEOUT=${FINETUNE_TIMEOUT:-100}
TOTAL_BUDGET=${TOTAL_BUDGET:-470}
HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-quick}
DATA=${1:-${MINIDL_DATA:-}}
WEIGHTS=${MINIDL_WEIGHTS:-}

STAMP=$(date +%Y-%m-%d)
RESULTS_DIR=$ROOT/benchmarks/results
RESULT_FILE=${RESULT_FILE:-$RESULTS_DIR/gpu-$STAMP.md}
LOG_DIR=${RESULT_FILE%.md}-logs
mkdir -p "$RESULTS_DIR" "$LOG_DIR" || exit 1
START=$(date +%s)

# What each step came to, for the summary: parallel lists.
STEP_NAMES=()
STEP_RESULTS=()
STEP_SECONDS=()
STEP_NOTES=()
FAILED=0

record() {  # record NAME RESULT SECONDS NOTE
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("$2")
    STEP_SECONDS+=("$3")
    STEP_NOTES+=("$4")
    case $2 in
        passed | skipped*) ;;
        *) FAILED=1 ;;
    esac
    echo "-- $1: $2 (${3}s) $4"
}

skip() {  # skip NAME REASON
    record "$1" "skipped" 0 "$2"
}

time_left() {
    echo $((TOTAL_BUDGET - ($(date +%s) - START)))
}

run_step() {  # run_step NAME LIMIT COMMAND...: run it under `timeout`
    local name=$1 limit=$2
    shift 2
    local left
    left=$(time_left)
    if [ "$left" -lt 20 ]; then
        skip "$name" "out of time (the whole check is limited to ${TOTAL_BUDGET}s)"
        return 0
    fi
    if [ "$limit" -gt $((left - 5)) ]; then
        limit=$((left - 5))
    fi
    local log=$LOG_DIR/$name.log
    echo
    echo "== $name (at most ${limit}s): $*"
    local began status seconds result
    began=$(date +%s)
    timeout --kill-after=15 "$limit" "$@" >"$log" 2>&1
    status=$?
    seconds=$(($(date +%s) - began))
    tail -n 15 "$log"
    case $status in
        0) result=passed ;;
        124 | 137) result="timed out after ${limit}s" ;;
        *) result="failed (exit status $status)" ;;
    esac
    record "$name" "$result" "$seconds" "log: ${log#"$ROOT"/}"
    return 0
}

# -- 1. the machine --------------------------------------------------------------
echo "== machine"
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
        git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
    if command -v nvidia-smi >/dev/null 2>&1; then
        timeout 30 nvidia-smi || echo "nvidia-smi failed"
    else
        echo "nvidia-smi: not found"
    fi
    timeout 60 "$PYTHON" - <<'EOF'
import platform
print("python", platform.python_version(), platform.machine())
try:
    import numpy
    print("numpy", numpy.__version__)
except Exception as error:
    print("numpy: not importable:", error)
try:
    import cupy
    print("cupy", cupy.__version__, "| CUDA runtime",
          cupy.cuda.runtime.runtimeGetVersion())
    count = cupy.cuda.runtime.getDeviceCount()
    for index in range(count):
        properties = cupy.cuda.runtime.getDeviceProperties(index)
        print("GPU {}: {}".format(index, properties["name"].decode()))
except Exception as error:
    print("cupy: no GPU usable:", type(error).__name__, error)
try:
    import torch
    print("torch", torch.__version__, "| cuda", torch.version.cuda,
          "| cudnn", torch.backends.cudnn.version(),
          "| GPU available", torch.cuda.is_available())
except Exception as error:
    print("torch: not importable:", error)
EOF
} >"$LOG_DIR/machine.log" 2>&1
cat "$LOG_DIR/machine.log"

GPU_COUNT=$(timeout 60 "$PYTHON" -c \
    "import cupy; print(cupy.cuda.runtime.getDeviceCount())" 2>/dev/null ||
    echo 0)
case $GPU_COUNT in
    '' | *[!0-9]*) GPU_COUNT=0 ;;
esac
if [ "$GPU_COUNT" -gt 0 ]; then
    record machine passed $(($(date +%s) - START)) "$GPU_COUNT GPU(s) seen by CuPy"
    HAVE_GPU=1
else
    echo "No GPU: CuPy is missing or sees no GPU. The GPU steps are skipped."
    record machine "skipped: no GPU" $(($(date +%s) - START)) \
        "CuPy missing or no GPU; see the machine log"
    HAVE_GPU=0
fi

# -- 2. the test suite on the GPU -----------------------------------------------------
if [ "$HAVE_GPU" = 1 ]; then
    run_step tests "$TEST_TIMEOUT" env MINIDL_TEST_DEVICE=cuda \
        MINIDL_HYPOTHESIS_PROFILE="$HYPOTHESIS_PROFILE" \
        "$PYTHON" -m pytest -x -q -p no:cacheprovider --durations=10 \
        -o console_output_style=count
else
    skip tests "no GPU"
fi
TEST_COUNTS=$(grep -E '[0-9]+ (passed|failed|errors?|skipped)' \
    "$LOG_DIR/tests.log" 2>/dev/null | tail -n 1)
if [ -z "$TEST_COUNTS" ] && [ -f "$LOG_DIR/tests.log" ]; then
    # Stopped before pytest's summary: how far it got ("[ N/M]").
    TEST_COUNTS="no pytest summary; reached test $(grep -oE '\[ *[0-9]+/[0-9]+\]' \
        "$LOG_DIR/tests.log" | tail -n 1 | tr -d '[] ')"
fi

# -- 3. the speed benchmark -----------------------------------------------------------
if [ "$HAVE_GPU" != 1 ]; then
    skip benchmark "no GPU"
elif [ ! -f "$BENCH_SCRIPT" ]; then
    skip benchmark "$BENCH_SCRIPT not found (set BENCH_SCRIPT/BENCH_CMD)"
else
    read -r -a BENCH_ARGS <<<"$BENCH_CMD"
    run_step benchmark "$BENCH_TIMEOUT" "${BENCH_ARGS[@]}"
fi

# -- 4. one fine-tuning epoch ----------------------------------------------------
if [ -z "$DATA" ] && [ -d shared/data/cifar10-jpg/train ]; then
    DATA=shared/data/cifar10-jpg/train
fi
if [ -z "$WEIGHTS" ] && [ -f shared/weights/resnet20-12fca82f.th ]; then
    WEIGHTS=shared/weights/resnet20-12fca82f.th
fi
if [ "$HAVE_GPU" != 1 ]; then
    skip finetune "no GPU"
elif [ -z "$DATA" ] || [ ! -d "$DATA" ]; then
    skip finetune "no data: pass an ImageFolder root as the first argument or set MINIDL_DATA"
elif [ -z "$WEIGHTS" ] || [ ! -f "$WEIGHTS" ]; then
    skip finetune "no weights: set MINIDL_WEIGHTS (.npz or PyTorch .th)"
else
    FINETUNE_OUT=$(mktemp -d)  # checkpoints and plots: not kept
    run_step finetune "$FINETUNE_TIMEOUT" "$PYTHON" -m minidl.finetune \
        --data "$DATA" --weights "$WEIGHTS" --device cuda --epochs 1 \
        --batch-size 128 --num-workers 8 --out "$FINETUNE_OUT"
    rm -rf "$FINETUNE_OUT"
fi

# -- the summary ---------------------------------------------------------------------
tail_of() {  # tail_of LOG LINES: the end of a log, in a code block
    echo '```'
    if [ -f "$1" ]; then
        tail -n "$2" "$1" | cut -c 1-200
    else
        echo "(no log)"
    fi
    echo '```'
}

{
    echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Written by \`benchmarks/gpu_check.sh\` in $(($(date +%s) - START)) s."
    if [ "$HAVE_GPU" != 1 ]; then
        echo
        echo "**No GPU was found: the GPU steps were skipped.** The GPU run is"
        echo "still to be done."
    fi
    echo
    echo "| step | result | seconds | notes |"
    echo "|---|---|---|---|"
    for i in "${!STEP_NAMES[@]}"; do
        echo "| ${STEP_NAMES[$i]} | ${STEP_RESULTS[$i]} | ${STEP_SECONDS[$i]} | ${STEP_NOTES[$i]} |"
    done
    echo
    echo "Tests: ${TEST_COUNTS:-not run}"
    echo
    echo "## Machine"
    tail_of "$LOG_DIR/machine.log" 60
    for step in tests benchmark finetune; do
        if [ -f "$LOG_DIR/$step.log" ]; then
            echo
            echo "## $step (end of the log)"
            tail_of "$LOG_DIR/$step.log" 40
        fi
    done
} >"$RESULT_FILE"

echo
echo "Summary: ${RESULT_FILE#"$ROOT"/}"
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    cp "$RESULT_FILE" "$OUT"/ && cp -r "$LOG_DIR" "$OUT"/ 2>/dev/null
    echo "Copied to $OUT"
fi
exit "$FAILED"
