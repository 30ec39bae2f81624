#!/usr/bin/env bash
# `make test-gpu` and the prepared run on an offline GPU host (issue 17).
#
#   bash tools/test_gpu.sh [--stage] [--dry-run] [PYTEST ARGS...]
#
# On the GPU host (Python 3.12 with torch, torchvision, timm, matplotlib, scikit-image, accelerate and
# pytest; no Jupyter, no network, no Debian data packages), with .whl/ and .gpu-data/ made here by
# `.venv/bin/python tools/gpu_carry.py` (it prints their sizes and the calls to make):
#   1. unpacks .gpu-data/ (Fashion-MNIST, the doggy-door folders, Tux Paint's cut-outs, the etcd server into
#      build/bin/) and checks the data;
#   2. installs the carried wheels into /tmp/site (pip --no-index --no-deps --target), puts it on PYTHONPATH and
#      checks their requirements against what is installed (`tools/gpu_carry.py --verify`);
#   3. runs the test suite in full mode (log: $OUT/pytest.log; skips and their reasons at its end and in the
#      summary: nbgrader is not carried, so the student/grading tests skip there);
#   4. runs every notebook in full mode with `tools/notebooks.py run` into build/gpu/ and copies the summary,
#      the results file (gpu-full.json; results.json in a dry run) and the executed notebooks (one .tar.gz)
#      into $OUT, with setup.log (versions, the wheel check, the data) beside them: 6 files (8 at most come back).
# --stage     only step 1 (the first of two carried calls when both folders exceed one call's 64 MiB;
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
    if [ -f .gpu-data/bin/etcd.gz ] && [ ! -x build/bin/etcd ]; then  # the etcd rendezvous test's server
        mkdir -p build/bin && gunzip -c .gpu-data/bin/etcd.gz > build/bin/etcd.tmp && chmod +x build/bin/etcd.tmp \
            && mv build/bin/etcd.tmp build/bin/etcd
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
# the repository's own helpers first (no editable install needed); the carried etcd server on PATH
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
[ -x build/bin/etcd ] && export PATH=$PWD/build/bin:$PATH

status=0
SETUP=$OUT/setup.log
"$PY" - <<'PY' | tee "$SETUP"
import os, sys, torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, GPU: {gpu} x {torch.cuda.device_count()}, "
      f"COURSE_MODE={os.environ['COURSE_MODE']}")
PY
if [ -d .whl ]; then  # the carried wheels' requirements against what this Python has (versions, not the notes)
    "$PY" tools/gpu_carry.py --verify 2>&1 | tee -a "$SETUP" || { log "the carried wheels' check failed (above)"; status=1; }
fi
etcd_line="etcd: $(command -v etcd || echo 'none on PATH: the etcd rendezvous test skips')"
echo "$etcd_line" | tee -a "$SETUP"
"$PY" -m helpers.prepare 2>&1 | tee -a "$SETUP" || { log "data not ready (see above)"; exit 1; }

start=$(date +%s)
"$PY" -m pytest -q -rs "$@" 2>&1 | tee "$OUT/pytest.log" > /dev/null
suite=${PIPESTATUS[0]}
log "test suite ($COURSE_MODE mode): exit $suite in $(( $(date +%s) - start )) s; $(tail -1 "$OUT/pytest.log")"
[ "$suite" -eq 0 ] || status=1
skips=$(grep -c '^SKIPPED' "$OUT/pytest.log")
if [ "$skips" -gt 0 ]; then
    log "skipped tests, by reason (pytest -rs; the full list at the end of pytest.log):"
    grep '^SKIPPED' "$OUT/pytest.log" | sed -E 's/^SKIPPED \[([0-9]+)\] [^:]+:[0-9]+: /\1\t/' \
        | awk -F'\t' '{n[$2] += $1} END {for (r in n) printf "    %3d  %s\n", n[r], r}' | sort -rn
fi
if ! "$PY" -c 'import nbgrader' 2>/dev/null; then
    log "nbgrader is not importable here (not carried: its wheel set does not fit a call), so the student copy" \
        "and grading tests of tests/test_student_and_grading.py skip; \`make test\` on a CPU runs them"
fi

start=$(date +%s)
rm -rf build/gpu
"$PY" tools/notebooks.py run --build build/gpu 2>&1 | tee "$OUT/notebooks.log" | grep -E "^(running|  )" 
nbs=${PIPESTATUS[0]}
log "notebooks ($COURSE_MODE mode): exit $nbs in $(( $(date +%s) - start )) s"
[ "$nbs" -eq 0 ] || status=1
cp build/gpu/summary.md "$OUT/summary.md" 2>/dev/null || log "no build/gpu/summary.md"
if [ -f build/gpu/results.json ]; then  # a real run's file is committed as results/gpu-full.json
    if [ "$DRY_RUN" -eq 0 ]; then cp build/gpu/results.json "$OUT/gpu-full.json"; else cp build/gpu/results.json "$OUT/results.json"; fi
else
    log "tools/notebooks.py run wrote no results.json (its results file is another change: merge it first)"
fi
tar -czf "$OUT/notebooks.tar.gz" -C build/gpu $(cd build/gpu && ls *.ipynb 2>/dev/null) 2>/dev/null \
    || log "no executed notebooks to pack"
log "done: exit $status; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit $status
