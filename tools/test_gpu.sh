#!/usr/bin/env bash
# `make test-gpu`: the whole suite in full mode on a CUDA GPU.
# A Python that already has a CUDA build of torch (a GPU host's python3) is used as it is, with the
# other pins installed beside it in .venv-gpu (from ./wheels when that folder exists: offline hosts).
# Otherwise the project's .venv is used, if its torch sees a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

has_cuda() { "$1" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

if has_cuda python3; then
    python3 -m venv --system-site-packages .venv-gpu
    PY=.venv-gpu/bin/python
    mapfile -t REQS < <(python3 - <<'PY'
import re
text = open("pyproject.toml").read()
for pin in re.findall(r'^\s+"([A-Za-z0-9_.\-]+==[^"]+)",$', text, re.M):
    if not pin.startswith(("torch==", "torchvision==")):
        print(pin)
PY
)
    PIP_ARGS=(--quiet)
    [ -d wheels ] && PIP_ARGS+=(--no-index --find-links wheels)
    # torch and torchvision are not in the list, and the host's copies satisfy the others' requirements,
    # so pip leaves the host's CUDA torch alone
    "$PY" -m pip install "${PIP_ARGS[@]}" "${REQS[@]}"
    "$PY" -m pip install "${PIP_ARGS[@]}" --no-deps --no-build-isolation -e .
elif [ -x .venv/bin/python ] && has_cuda .venv/bin/python; then
    PY=.venv/bin/python
else
    echo "make test-gpu: no CUDA GPU is visible (torch.cuda.is_available() is False for python3 and .venv)." >&2
    echo "Run it on a machine with an NVIDIA GPU and driver; on this machine use \`make test\` (fast mode)." >&2
    exit 2
fi

"$PY" -c 'import torch; print("GPU suite on", torch.cuda.get_device_name(0), "torch", torch.__version__)'
"$PY" -m helpers.prepare
COURSE_MODE=full "$PY" -m pytest "$@"
