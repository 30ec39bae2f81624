#!/usr/bin/env bash
# `make test-gpu` and the prepared run on an offline GPU host (issue 17).
#
#   bash tools/test_gpu.sh [--stage] [--dry-run] [PYTEST ARGS...]
#
# On the GPU host (Python 3.12 with torch, torchvision, timm, matplotlib, scikit-image, accelerate and
# pytest; no Jupyter, no network, no Debian data packages), with .whl/ and .gpu-data/ made here by
# `.venv/bin/python tools/gpu_carry.py` (it prints their sizes and the calls to make):
#   1. installs the carried wheels into /tmp/site (pip --no-index --no-deps --target) and puts it on PYTHONPATH;
#   2. unpacks .gpu-data/ (Fashion-MNIST, the doggy-door folders, Tux Paint's cut-outs) and checks the data;
#   3. runs the test suite in full mode (log: $OUT/pytest.log);
#   4. runs every notebook in full mode with `tools/notebooks.py run` into build/gpu/ and copies the summary,
#      the results file (results.json) and the executed notebooks (one .tar.gz) into $OUT.
# --stage     only step 2 (the first of two carried calls when both folders exceed one call's 64 MiB;
#             a warm machine keeps data/ for the second call); then exits.
# --dry-run   the same steps on this CPU: fast mode, the project's .venv, no GPU needed; the wheels are
#             installed for Python 3.12 into a scratch folder (checks that they install) but not imported.
# Without .whl/ (a GPU machine with Jupyter installed, or the project's .venv on a CUDA machine) step 1 is skipped.
# Exit code: non-zero when the suite or a notebook failed; every step runs anyway.
set -uo pipefail
cd "$(dirname "$0")/.."

STAGE_ONLY=0 DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) STAGE_ONLY=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        *) break ;;
    esac
done
OUT=${OUT:-build/gpu-out}
mkdir -p "$OUT" build
log() { echo "[test_gpu $(date +%H:%M:%S)] $*"; }

stage_data() {
    [ -d .gpu-data ] || { log "no .gpu-data/: using data/ as it is"; return 0; }
    mkdir -p data/FashionMNIST/raw
    for gz in .gpu-data/fashion-mnist/*.gz; do
        raw=data/FashionMNIST/raw/$(basename "$gz" .gz)
        if [ ! -f "$raw" ]; then gunzip -c "$gz" > "$raw.tmp" && mv "$raw.tmp" "$raw"; fi
    done
    for folder in presidential_doggy_door doggy_door_photos; do
        [ -d ".gpu-data/$folder" ] && mkdir -p "data/$folder" && cp -a ".gpu-data/$folder/." "data/$folder/"
    done
    if [ -d .gpu-data/tuxpaint ] && [ "$DRY_RUN" -eq 0 ]; then  # where helpers.photos looks for them
        mkdir -p /usr/share/tuxpaint/stamps/animals && cp -an .gpu-data/tuxpaint/. /usr/share/tuxpaint/stamps/animals/
    fi
    log "data staged from .gpu-data/ into data/"
}

stage_data
[ "$STAGE_ONLY" -eq 1 ] && exit 0

has_cuda() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
if [ "$DRY_RUN" -eq 1 ]; then
    PY=.venv/bin/python
    export COURSE_MODE=fast
    if [ -d .whl ]; then
        rm -rf /tmp/site-dry
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site-dry \
            --python-version 3.12 --implementation cp --only-binary=:all: "${PLATFORMS[@]}" .whl/*.whl \
            && log "dry run: the $(ls .whl/*.whl | wc -l) carried wheels install for Python 3.12 (into /tmp/site-dry)" \
            || { log "dry run: the carried wheels do not install"; exit 1; }
    fi
else
    export COURSE_MODE=full
    if has_cuda python3; then
        PY=python3
        if [ -d .whl ]; then
            python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
                || { log "the carried wheels did not install"; exit 1; }
            export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
            export JUPYTER_PATH=/tmp/site/share/jupyter  # the python3 kernelspec that ipykernel's wheel ships
            export PATH=/tmp/site/bin:$PATH
        elif ! python3 -c 'import nbval, nbclient, nbconvert, ipykernel' 2>/dev/null; then
            # an online GPU machine without Jupyter: the other pins beside the host's CUDA torch in .venv-gpu
            python3 -m venv --system-site-packages .venv-gpu
            PY=.venv-gpu/bin/python
            mapfile -t REQS < <(python3 -c '
import tomllib
for pin in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    if not pin.startswith(("torch==", "torchvision==")):  # keep the host CUDA build
        print(pin)')
            "$PY" -m pip install -q "${REQS[@]}" || { log "pip could not install the pins into .venv-gpu"; exit 1; }
        fi
    elif [ -x .venv/bin/python ] && has_cuda .venv/bin/python; then
        PY=.venv/bin/python
    else
        echo "make test-gpu: no CUDA GPU is visible (torch.cuda.is_available() is False for python3 and .venv)." >&2
        echo "Run it on a machine with an NVIDIA GPU and driver; here use \`make test\`, or \`bash tools/test_gpu.sh --dry-run\`." >&2
        exit 2
    fi
fi
# the repository's own helpers first (no editable install needed)
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg

"$PY" - <<'PY' | tee "$OUT/environment.txt"
import os, sys, torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, GPU: {gpu} x {torch.cuda.device_count()}, "
      f"COURSE_MODE={os.environ['COURSE_MODE']}")
PY
"$PY" -m helpers.prepare 2>&1 | tee "$OUT/prepare.log" || { log "data not ready (see above)"; exit 1; }

status=0
start=$(date +%s)
"$PY" -m pytest -q "$@" 2>&1 | tee "$OUT/pytest.log" > /dev/null
suite=${PIPESTATUS[0]}
log "test suite ($COURSE_MODE mode): exit $suite in $(( $(date +%s) - start )) s; $(tail -1 "$OUT/pytest.log")"
[ "$suite" -eq 0 ] || status=1

start=$(date +%s)
rm -rf build/gpu
"$PY" tools/notebooks.py run --build build/gpu 2>&1 | tee "$OUT/notebooks.log" | grep -E "^(running|  )" 
nbs=${PIPESTATUS[0]}
log "notebooks ($COURSE_MODE mode): exit $nbs in $(( $(date +%s) - start )) s"
[ "$nbs" -eq 0 ] || status=1
cp build/gpu/summary.md "$OUT/summary.md" 2>/dev/null || log "no build/gpu/summary.md"
if [ -f build/gpu/results.json ]; then
    cp build/gpu/results.json "$OUT/results.json"
    [ "$DRY_RUN" -eq 0 ] && cp build/gpu/results.json "$OUT/gpu-full.json"  # commit as results/gpu-full.json
else
    log "tools/notebooks.py run wrote no results.json (its results file is another change: merge it first)"
fi
tar -czf "$OUT/notebooks.tar.gz" -C build/gpu $(cd build/gpu && ls *.ipynb 2>/dev/null) 2>/dev/null \
    || log "no executed notebooks to pack"
log "done: exit $status; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit $status
