#!/usr/bin/env bash
# The one command to run on a lent CUDA machine, about 8 minutes at most (give it timeout_s 590):
#
#     bash scripts/gpu_check.sh
#
# 1. the machine: nvidia-smi, and the card as torch sees it;
# 2. the CUDA tests (the tests named *cuda*; elsewhere they skip for want of a GPU);
# 3. the benchmarks gpu, trainer and fastpath on cuda, one `python -m bench` each under its own
#    timeout, gpu and trainer rewriting their tables in docs/benchmarks.md (a benchmark that runs
#    short of time leaves out its last parts and says so, rather than printing nothing).
# Each step's output goes to the screen and to $OUT/STEP.log ($OUT, or gpu-check/ where it is unset),
# and the rewritten docs to $OUT/benchmarks.md, to copy over docs/benchmarks.md. A failed step does
# not stop the next ones; the exit status is 1 when any failed.
# The machine needs python3 with torch, numpy and networkx (pytest for the tests), no Qt: graphcore
# and the benchmarks never import it, and jsonschema is only imported for a graph file that fails
# its fast checks.
set -u
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
failed=()

step() { # step NAME SECONDS COMMAND...: COMMAND under a timeout, its output shown and kept in $out/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name (at most $limit s): $*"
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit status $status"
    [ "$status" -eq 0 ] || failed+=("$name")
}

step machine 30 sh -c "nvidia-smi; $python -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())'"
# pytest-qt is not there, so pyproject's qt_api key is unknown: a config warning, which its "error" filter would raise
step tests 90 "$python" -m pytest -q -p no:cacheprovider -W ignore::pytest.PytestConfigWarning -rs -k cuda \
    tests/graphcore/test_precision.py tests/graphcore/test_autodiff.py tests/export/test_export_training.py
step bench-gpu 280 "$python" -m bench --only gpu --device cuda --write-docs --timeout 260
step bench-trainer 80 "$python" -m bench --only trainer --device cuda --write-docs --timeout 75
step bench-fastpath 80 "$python" -m bench --only fastpath --device cuda --timeout 75
cp docs/benchmarks.md "$out/benchmarks.md"

if [ ${#failed[@]} -gt 0 ]; then
    echo "gpu_check: failed: ${failed[*]} (logs in $out)"
    exit 1
fi
echo "gpu_check: every step passed (logs and docs/benchmarks.md in $out)"
