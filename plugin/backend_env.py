"""Find, check and create the backend's Python environment (QGIS-free).

The backend runs in its own virtual environment, never in QGIS's Python (wheels of
pyproj/rasterio bind to other GDAL/PROJ builds and crash QGIS). Which interpreter:
``URBANSIG_BACKEND_PYTHON`` if set, else the provider setting, else the default
environment's interpreter. Also a command line for scripts and the Makefile:
``python3 -m plugin.backend_env setup|check|python``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .process import Cancellable, ChildStartError, clean_environment, run_child

PLUGIN_DIR = Path(__file__).resolve().parent.parent
BACKEND_DIR = PLUGIN_DIR / "backend"
REQUIREMENTS = BACKEND_DIR / "requirements.txt"
TORCH_REQUIREMENT = BACKEND_DIR / "requirements-torch.txt"
ENV_VARIABLE = "URBANSIG_BACKEND_PYTHON"
MARKER = "urbansig-environment.json"
TORCH_FLAVOURS = ("auto", "cpu", "cuda")
# The modules a job may import; checked by ``missing_modules``.
REQUIRED_MODULES = (
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "geopandas",
    "pyogrio",
    "shapely",
    "h3",
    "sklearn",
    "gensim",
    "rasterio",
    "PIL",
    "matplotlib",
)
SETUP_HINT = (
    "Run the Processing algorithm 'Urban Signatures > Setup > Set up backend environment' "
    "(or 'make setup' in the plugin folder), or point the environment variable "
    f"{ENV_VARIABLE} (or the provider setting) at a Python that has the backend's packages."
)


class BackendEnvError(RuntimeError):
    """The backend environment is missing or broken; the message says how to fix it."""


def default_venv_dir() -> Path:
    """Where the setup puts the environment unless told otherwise (per user)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "urban_signatures" / "venv"


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def backend_python(setting: str | None = None) -> Path:
    """The backend interpreter: env variable > provider setting > default environment."""
    for source, value in ((ENV_VARIABLE, os.environ.get(ENV_VARIABLE)), ("setting", setting)):
        if value:
            path = Path(value).expanduser()
            if not path.exists():
                raise BackendEnvError(
                    f"The backend Python {path} (from {source}) does not exist. {SETUP_HINT}"
                )
            return path
    path = venv_python(default_venv_dir())
    if not path.exists():
        raise BackendEnvError(
            f"The backend environment is not set up ({path} is missing). {SETUP_HINT}"
        )
    return path


def child_environment() -> dict[str, str]:
    """A clean environment in which ``python -m urbansig`` is the code shipped here.

    OpenMP threads wait passively: spinning threads slow torch down many times on a
    machine whose cores are busy with other work (measured on 2 shared cores)."""
    extra = {"PYTHONPATH": str(BACKEND_DIR)}
    if "OMP_WAIT_POLICY" not in os.environ:
        extra["OMP_WAIT_POLICY"] = "PASSIVE"
    return clean_environment(extra)


def backend_command(python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "urbansig", *args]


_info_cache: dict[str, dict] = {}


def _info_key(python: Path) -> str:
    """Changes when the interpreter, its installed packages or the shipped backend change."""
    stamps = [str(python.resolve())]
    for path in (python, *python.parent.parent.glob("lib*/python*/site-packages")):
        stamps.append(f"{path}:{path.stat().st_mtime_ns}" if path.exists() else str(path))
    init = BACKEND_DIR / "urbansig" / "__init__.py"
    stamps.append(init.read_text(encoding="utf-8") if init.exists() else "")
    return hashlib.sha256("|".join(stamps).encode()).hexdigest()[:20]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "urban_signatures"


def backend_info(python: Path, timeout_s: float = 60.0) -> dict:
    """Versions, device and missing modules of a backend interpreter.

    Cached in memory and on disk (keyed by the interpreter and its site-packages), so that
    QGIS start-up and every qgis_process run do not pay for starting torch.
    """
    key = _info_key(python)
    if key in _info_cache:
        return _info_cache[key]
    cache_file = _cache_dir() / f"backend-info-{key}.json"
    try:
        info = json.loads(cache_file.read_text())
        if not info.get("missing"):
            _info_cache[key] = info
            return info
    except (OSError, ValueError):
        pass
    probe = (
        "import importlib.util, json\n"
        f"missing = [m for m in {REQUIRED_MODULES!r} if importlib.util.find_spec(m) is None]\n"
        "info = {'missing': missing}\n"
        "if 'torch' not in missing:\n"
        "    from urbansig.diagnostics import backend_info\n"
        "    info.update(backend_info())\n"
        "print(json.dumps(info))\n"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", probe],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=child_environment(),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendEnvError(
            f"The backend Python {python} does not run ({exc}). {SETUP_HINT}"
        ) from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackendEnvError(f"The backend Python {python} fails: {last}. {SETUP_HINT}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    _info_cache[key] = info
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(info))
    except OSError:
        pass  # a read-only home only costs the probe next time
    return info


def check_backend(python: Path) -> str:
    """A one-line description of a working backend; BackendEnvError otherwise."""
    info = backend_info(python)
    if info["missing"]:
        raise BackendEnvError(
            f"The backend Python {python} lacks: {', '.join(info['missing'])}. {SETUP_HINT}"
        )
    return f"urbansig {info['urbansig']}, torch {info['torch']} on {info['device']}"


def requirements_digest(flavour: str) -> str:
    text = REQUIREMENTS.read_text() + TORCH_REQUIREMENT.read_text() + flavour
    return hashlib.sha256(text.encode()).hexdigest()


CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def torch_install_args(flavour: str, index_url: str | None, wheel_dir: Path | None) -> list[str]:
    """pip arguments for the pinned torch: the CUDA build is PyPI's default on Linux; the
    CPU-only build (``+cpu``, about 5x smaller) comes from PyTorch's CPU index."""
    requirement = next(
        line.strip()
        for line in TORCH_REQUIREMENT.read_text().splitlines()
        if line.strip().startswith("torch")
    )
    if index_url:
        return ["--index-url", index_url, requirement]
    if flavour == "cpu" and wheel_dir is None and sys.platform.startswith(("linux", "win")):
        return ["--extra-index-url", CPU_TORCH_INDEX, f"{requirement}+cpu"]
    return [requirement]


def has_nvidia_gpu() -> bool:
    nvidia_smi = shutil.which("nvidia-smi")
    if not nvidia_smi:
        return False
    try:
        return subprocess.run([nvidia_smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def base_python() -> str:
    """An interpreter to create the venv from (never the QGIS binary itself)."""
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found:
            return found
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    raise BackendEnvError("No python3 found on PATH to create the backend environment from.")


def setup_environment(
    venv_dir: Path | None = None,
    torch_flavour: str = "auto",
    wheel_dir: Path | None = None,
    torch_index_url: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    progress: Callable[[float], None] = lambda f: None,
    feedback: Cancellable | None = None,
) -> Path:
    """Create or update the backend environment; safe to re-run. Returns its interpreter.

    ``torch_flavour``: ``cpu``, ``cuda``, or ``auto`` (cuda where an NVIDIA GPU is found).
    ``wheel_dir``: install offline from a folder of wheels. ``torch_index_url``: where to get
    torch from (e.g. https://download.pytorch.org/whl/cpu for a small CPU-only build).
    """
    if torch_flavour not in TORCH_FLAVOURS:
        raise BackendEnvError(
            f"TORCH must be one of {', '.join(TORCH_FLAVOURS)}, not {torch_flavour!r}."
        )
    venv_dir = Path(venv_dir or default_venv_dir()).expanduser().resolve()
    flavour = ("cuda" if has_nvidia_gpu() else "cpu") if torch_flavour == "auto" else torch_flavour
    python = venv_python(venv_dir)
    marker = venv_dir / MARKER
    digest = requirements_digest(flavour)
    started = time.monotonic()
    if not force and marker.exists() and python.exists():
        if json.loads(marker.read_text()).get("digest") == digest:
            try:
                log(f"Backend environment is up to date: {check_backend(python)}")
                progress(1.0)
                return python
            except BackendEnvError as exc:
                log(f"Existing environment is broken ({exc}); repairing it.")
    log(f"Setting up the backend environment in {venv_dir} (torch build: {flavour})")
    if not python.exists():
        venv_dir.parent.mkdir(parents=True, exist_ok=True)
        _run([base_python(), "-m", "venv", str(venv_dir)], log, feedback)
    progress(0.1)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if wheel_dir is not None:
        pip += ["--no-index", "--find-links", str(Path(wheel_dir).resolve())]
    log("Installing torch (this is the large part)")
    torch_args = torch_install_args(flavour, torch_index_url, wheel_dir)
    if len(torch_args) > 1:  # torch alone from its index, then its dependencies from the usual one
        _run([*pip, "--no-deps", *torch_args], log, feedback)
        torch_args = torch_args[-1:]
    _run([*pip, *torch_args], log, feedback)
    progress(0.6)
    log("Installing the geospatial and ML packages")
    _run([*pip, "-r", str(REQUIREMENTS)], log, feedback)
    progress(0.9)
    _info_cache.clear()
    summary = check_backend(python)
    marker.write_text(json.dumps({"digest": digest, "flavour": flavour, "summary": summary}))
    log(f"Backend ready in {time.monotonic() - started:.0f} s: {summary}")
    progress(1.0)
    return python


def _run(args: list[str], log: Callable[[str], None], feedback: Cancellable | None) -> None:
    try:
        outcome = run_child(
            args, on_stdout=log, on_stderr=log, feedback=feedback, env=clean_environment()
        )
    except ChildStartError as exc:
        raise BackendEnvError(str(exc)) from exc
    if outcome.cancelled:
        raise BackendEnvError("Setup was cancelled; run it again to finish (it resumes safely).")
    if outcome.returncode != 0:
        tail = " | ".join(outcome.stderr_tail[-5:])
        raise BackendEnvError(f"'{' '.join(args[:4])} ...' failed ({outcome.returncode}): {tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m plugin.backend_env", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="create or update the backend environment")
    setup.add_argument("--venv", type=Path, default=None, help=f"default: {default_venv_dir()}")
    setup.add_argument("--torch", choices=TORCH_FLAVOURS, default="auto")
    setup.add_argument("--wheels", type=Path, default=None, help="offline wheel folder")
    setup.add_argument("--torch-index-url", default=None)
    setup.add_argument("--force", action="store_true")
    sub.add_parser("check", help="check the backend interpreter and print its versions")
    args = parser.parse_args(argv)
    try:
        if args.command == "setup":
            setup_environment(args.venv, args.torch, args.wheels, args.torch_index_url, args.force)
        else:
            python = backend_python()
            print(f"{python}: {check_backend(python)}")
    except BackendEnvError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
