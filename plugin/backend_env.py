"""Find, check and create the backend's Python environment (QGIS-free).

The backend runs in its own virtual environment, never in QGIS's Python (wheels of
pyproj/rasterio bind to other GDAL/PROJ builds and crash QGIS). Which interpreter:
``URBANSIG_BACKEND_PYTHON`` if set, else the provider setting, else the default
environment's interpreter. Also a command line for scripts and the Makefile:
``python3 -m plugin.backend_env setup|check|python``.

The setup summarises pip (one line per package, warnings and errors in full) and keeps
pip's raw output in ``urbansig-setup.log`` in the environment folder; its progress follows
the packages (and the bytes, with pip >= 24.1); package indexes that do not answer a quick
probe are left out, so an offline machine does not wait on them.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .pip_output import PipOutput
from .process import Cancellable, ChildOutcome, ChildStartError, clean_environment, run_child

PLUGIN_DIR = Path(__file__).resolve().parent.parent
BACKEND_DIR = PLUGIN_DIR / "backend"
REQUIREMENTS = BACKEND_DIR / "requirements.txt"
TORCH_REQUIREMENT = BACKEND_DIR / "requirements-torch.txt"
ENV_VARIABLE = "URBANSIG_BACKEND_PYTHON"
MARKER = "urbansig-environment.json"
SETUP_LOG = "urbansig-setup.log"  # pip's raw output of the latest setup, in the env folder
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
PYPI_INDEX = "https://pypi.org/simple"
PROBE_TIMEOUT_S = 2.5  # an index that does not answer in this time is left out
PIP_TIMEOUT_S = 30  # pip's socket timeout, unless configured (pip's default: 15 s)
PIP_RETRIES = 2  # unless configured (pip's default: 5)
RAW_PROGRESS_PIP = (24, 1)  # the first pip with ``--progress-bar raw``
OFFLINE_HINT = (
    "No package index answers: to install offline, give a folder of wheels "
    "(WHEEL_DIR in the algorithm, --wheels on the command line)."
)
# How many packages each step brings in, for progress before pip has said (measured on Linux
# for torch 2.13: 9 dependencies on CPU; the CUDA build adds the nvidia-* libraries).
TORCH_DEPENDENCIES = {"cpu": 9, "cuda": 25}
REQUIREMENT_CLOSURE = 2.4  # the 14 pinned lines of requirements.txt resolve to 34 packages


def torch_requirement() -> str:
    """The pinned torch line of requirements-torch.txt (``torch==2.13.0``)."""
    return next(
        line.strip()
        for line in TORCH_REQUIREMENT.read_text().splitlines()
        if line.strip().startswith("torch")
    )


def torch_install_args(flavour: str, index_url: str | None, wheel_dir: Path | None) -> list[str]:
    """pip arguments for the pinned torch: the CUDA build is PyPI's default on Linux; the
    CPU-only build (``+cpu``, about 5x smaller) comes from PyTorch's CPU index."""
    requirement = torch_requirement()
    if index_url:
        return ["--index-url", index_url, requirement]
    if flavour == "cpu" and wheel_dir is None and sys.platform.startswith(("linux", "win")):
        return ["--extra-index-url", CPU_TORCH_INDEX, f"{requirement}+cpu"]
    return [requirement]


def expected_packages(requirements: Path) -> int:
    """About how many packages installing a requirements file brings in (dependencies too)."""
    pins = [
        line
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return max(1, round(len(pins) * REQUIREMENT_CLOSURE))


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


# ----------------------------------------------------------------- the environment folder


def is_backend_env(folder: Path) -> bool:
    """Whether ``folder`` was made by this setup (finished: marker; started: setup log)."""
    return (folder / MARKER).is_file() or (folder / SETUP_LOG).is_file()


def check_venv_dir(venv_dir: Path, label: str = "--venv") -> None:
    """Refuses a folder the setup must not write into. Taken: an absent or empty folder, or
    an Urban Signatures backend environment. Nothing is ever deleted."""
    choose = "Choose a new or empty folder, or an existing Urban Signatures backend environment"
    if not venv_dir.exists():
        return
    if not venv_dir.is_dir():
        raise BackendEnvError(f"{label}: {venv_dir} is a file, not a folder. {choose}.")
    try:
        empty = not any(venv_dir.iterdir())
    except OSError as exc:
        raise BackendEnvError(f"{label}: {venv_dir} cannot be read ({exc.strerror}).") from exc
    if not empty and not is_backend_env(venv_dir):
        raise BackendEnvError(
            f"{label}: {venv_dir} is not empty and is not an Urban Signatures backend "
            f"environment (it has no {MARKER}). {choose}; nothing was changed."
        )


# ------------------------------------------------------------- package indexes, probed


def pip_config(python: Path) -> dict[str, str]:
    """pip's settings as ``pip config list`` shows them (``{'global.index-url': ...}``)."""
    try:
        done = subprocess.run(
            [str(python), "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    config = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip().strip("'\"")
    return config


def config_value(config: dict[str, str], key: str) -> str | None:
    """A pip setting for ``pip install``: environment, then [install], then [global]."""
    for section in (":env:", "install", "global"):
        if f"{section}.{key}" in config:
            return config[f"{section}.{key}"]
    return None


def configured_indexes(config: dict[str, str]) -> list[str]:
    """The package indexes pip looks in: index-url (PyPI by default) and the extra ones."""
    if (config_value(config, "no-index") or "").lower() in ("1", "true", "yes", "on"):
        return []
    primary = config_value(config, "index-url") or PYPI_INDEX
    extras = (config_value(config, "extra-index-url") or "").split()
    return list(dict.fromkeys([primary, *extras]))


def probe_indexes(
    urls: list[str], timeout_s: float = PROBE_TIMEOUT_S, proxy: str | None = None
) -> dict[str, bool]:
    """Which indexes answer an HTTP request within ``timeout_s`` in all (name lookup
    included; probed side by side). Non-HTTP indexes (file://) count as answering."""
    answered = {url: True for url in urls}
    threads = []
    for url in answered:
        if urllib.parse.urlsplit(url).scheme in ("http", "https"):
            answered[url] = False
            thread = threading.Thread(
                target=_probe, args=(url, timeout_s, proxy, answered), daemon=True
            )
            thread.start()
            threads.append(thread)
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict(answered)


def _probe(url: str, timeout_s: float, proxy: str | None, answered: dict[str, bool]) -> None:
    """Any HTTP answer, or a TLS handshake that fails, means something is there."""
    handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy})] if proxy else []
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout_s):
            answered[url] = True
    except (urllib.error.HTTPError, http.client.HTTPException):
        answered[url] = True
    except urllib.error.URLError as exc:
        answered[url] = isinstance(exc.reason, ssl.SSLError)
    except (OSError, ValueError):
        pass  # timed out, refused, no route, malformed


@dataclass
class Sources:
    """Where pip takes the packages from in one setup: torch's arguments, pip options,
    environment overrides (indexes that did not answer left out), a hint for failures."""

    torch_args: list[str]
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    hint: str = ""


def network_options(config: dict[str, str]) -> list[str]:
    """pip's --timeout and --retries, unless the user configured them."""
    options = []
    if not (config_value(config, "timeout") or config_value(config, "default-timeout")):
        options += ["--timeout", str(PIP_TIMEOUT_S)]
    if not config_value(config, "retries"):
        options += ["--retries", str(PIP_RETRIES)]
    return options


def index_environment(answering: list[str]) -> dict[str, str]:
    """pip settings that keep only the answering indexes (the environment beats pip's
    config files; an empty value would not, hence the repeated index)."""
    if not answering:
        return {"PIP_NO_INDEX": "1"}
    return {
        "PIP_INDEX_URL": answering[0],
        "PIP_EXTRA_INDEX_URL": " ".join(answering[1:]) or answering[0],
    }


def plan_sources(
    python: Path,
    flavour: str,
    wheel_dir: Path | None,
    torch_index_url: str | None,
    log: Callable[[str], None],
    timeout_s: float = PROBE_TIMEOUT_S,
) -> Sources:
    """Probe the indexes pip would use; say in one line which do not answer and leave them
    out (PyTorch's CPU index: torch then comes from the other sources)."""
    if wheel_dir is not None:
        folder = str(Path(wheel_dir).resolve())
        args = torch_install_args(flavour, torch_index_url, wheel_dir)
        return Sources(args, ["--no-index", "--find-links", folder])
    config = pip_config(python)
    indexes = configured_indexes(config)
    torch_args = torch_install_args(flavour, torch_index_url, None)
    torch_index = torch_index_url or (CPU_TORCH_INDEX if CPU_TORCH_INDEX in torch_args else "")
    urls = [*indexes, *filter(None, [torch_index])]
    answered = probe_indexes(urls, timeout_s, config_value(config, "proxy"))
    silent = [url for url, ok in answered.items() if not ok]
    sources = Sources(torch_args, network_options(config))
    if not silent:
        return sources
    if torch_index_url and torch_index_url in silent:
        raise BackendEnvError(
            f"The torch index {torch_index_url} does not answer within {timeout_s:g} s: "
            "check the address and the network, or leave the torch index empty."
        )
    _leave_out(sources, indexes, answered, torch_index in silent, log, timeout_s)
    return sources


def _leave_out(
    sources: Sources,
    indexes: list[str],
    answered: dict[str, bool],
    torch_index_silent: bool,
    log: Callable[[str], None],
    timeout_s: float,
) -> None:
    """Drop the indexes that did not answer from ``sources`` and say so in one line."""
    silent = [url for url, ok in answered.items() if not ok]
    hosts = ", ".join(dict.fromkeys(urllib.parse.urlsplit(url).netloc for url in silent))
    notes = []
    if torch_index_silent:
        sources.torch_args = [torch_requirement()]
        notes.append(
            f"{sources.torch_args[0]} comes from pip's other sources (local wheels, the "
            "default index) instead of PyTorch's CPU index"
        )
    answering = [url for url in indexes if answered[url]]
    if len(answering) < len(indexes):
        sources.env = index_environment(answering)
        where = ", ".join(answering) if answering else "no index"
        notes.append(f"pip uses {where} and local wheels (find-links) only")
    log(f"No answer from {hosts} within {timeout_s:g} s: {'; '.join(notes)}.")
    sources.hint = "" if answering else OFFLINE_HINT


def pip_version(python: Path) -> tuple[int, int]:
    """(major, minor) of the environment's pip; (0, 0) when it does not say."""
    try:
        done = subprocess.run(
            [str(python), "-m", "pip", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_environment(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    match = re.match(r"pip (\d+)\.(\d+)", done.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# --------------------------------------------------------------------------- the setup


class SetupCancelled(BackendEnvError):
    """The user cancelled the setup."""


class SetupSession:
    """One setup run: summary lines to ``log``/``warn``, pip's raw output to the log file,
    each step's progress mapped onto its span of 0..1 (never going back)."""

    def __init__(
        self,
        log_file: Path,
        log: Callable[[str], None],
        warn: Callable[[str], None],
        progress: Callable[[float], None],
        feedback: Cancellable | None = None,
    ) -> None:
        self.log_file, self.log, self.warn = log_file, log, warn
        self._progress, self.feedback = progress, feedback
        self.overrides: dict[str, str] = {}  # pip settings for this setup (Sources.env)
        self.hint = ""
        self.done = 0.0
        self.raw = log_file.open("w", encoding="utf-8", buffering=1)
        self.raw.write(f"# Urban Signatures backend setup, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")

    def close(self) -> None:
        self.raw.close()

    def report(self, fraction: float) -> None:
        if fraction > self.done + 1e-4:
            self.done = min(1.0, fraction)
            self._progress(self.done)

    def run(
        self,
        args: list[str],
        title: str,
        span: tuple[float, float],
        expected: int = 1,
        quiet: bool = False,
    ) -> PipOutput:
        """Run one step; BackendEnvError with pip's error lines and the log file if it fails."""
        start, end = span
        output = PipOutput(
            self.log, self.warn, lambda f: self.report(start + (end - start) * f), expected, quiet
        )
        self.raw.write(f"\n$ {shlex.join(args)}\n")
        if self.overrides:
            self.raw.write(f"# environment: {self.overrides}\n")

        def reader(stream: str) -> Callable[[str], None]:
            def read(line: str) -> None:
                self.raw.write(line + "\n")
                output.feed(line, stream)

            return read

        try:
            outcome = run_child(
                args,
                reader("out"),
                reader("err"),
                feedback=self.feedback,
                env=clean_environment(self.overrides),
            )
        except ChildStartError as exc:
            raise BackendEnvError(str(exc)) from exc
        output.finish()
        if outcome.cancelled:
            raise SetupCancelled("Setup was cancelled; run it again to finish (it resumes safely).")
        if outcome.returncode != 0:
            raise BackendEnvError(self._failure(title, outcome.returncode, output, outcome))
        self.report(end)
        return output

    def _failure(self, title: str, code: int, output: PipOutput, outcome: ChildOutcome) -> str:
        lines = output.errors[-8:] or outcome.stderr_tail[-5:] or ["(no error message)"]
        hint = f"\n{self.hint}" if self.hint else ""
        body = "\n".join(f"  {line}" for line in lines)
        return f"{title} failed (exit code {code}):\n{body}{hint}\nFull output: {self.log_file}"


def setup_environment(
    venv_dir: Path | None = None,
    torch_flavour: str = "auto",
    wheel_dir: Path | None = None,
    torch_index_url: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
    progress: Callable[[float], None] = lambda f: None,
    feedback: Cancellable | None = None,
    warn: Callable[[str], None] | None = None,
    venv_label: str = "--venv",
) -> Path:
    """Create or update the backend environment; safe to re-run. Returns its interpreter.

    ``torch_flavour``: ``cpu``, ``cuda``, or ``auto`` (cuda where an NVIDIA GPU is found).
    ``wheel_dir``: install offline from a folder of wheels. ``torch_index_url``: where to get
    torch from (e.g. https://download.pytorch.org/whl/cpu for a small CPU-only build).
    ``warn``: where pip's warnings and errors go (default ``log``); ``venv_label``: the
    folder's name in messages (the parameter or option that gave it).
    """
    if torch_flavour not in TORCH_FLAVOURS:
        raise BackendEnvError(
            f"TORCH must be one of {', '.join(TORCH_FLAVOURS)}, not {torch_flavour!r}."
        )
    venv_dir = Path(venv_dir or default_venv_dir()).expanduser().resolve()
    check_venv_dir(venv_dir, venv_label)
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
    venv_dir.mkdir(parents=True, exist_ok=True)
    session = SetupSession(venv_dir / SETUP_LOG, log, warn or log, progress, feedback)
    try:
        log(f"Setting up the backend environment in {venv_dir} (torch build: {flavour})")
        log(f"pip's full output goes to {session.log_file}")
        _install(session, python, flavour, wheel_dir, torch_index_url)
    finally:
        session.close()
    _info_cache.clear()
    summary = check_backend(python)
    marker.write_text(json.dumps({"digest": digest, "flavour": flavour, "summary": summary}))
    log(f"Backend ready in {time.monotonic() - started:.0f} s: {summary}")
    progress(1.0)
    return python


def _install(
    session: SetupSession,
    python: Path,
    flavour: str,
    wheel_dir: Path | None,
    torch_index_url: str | None,
) -> None:
    """The steps: venv, sources, pip's progress, torch (the large part), the rest."""
    if not python.exists():
        venv_dir = python.parent.parent
        session.run([base_python(), "-m", "venv", str(venv_dir)], "Creating the venv", (0, 0.03))
    session.report(0.03)
    sources = plan_sources(python, flavour, wheel_dir, torch_index_url, session.log)
    session.overrides.update(sources.env)
    session.hint = sources.hint
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *sources.options]
    pip += ["--progress-bar", "raw" if _raw_progress(session, python, pip) else "off"]
    session.log("Installing torch (this is the large part)")
    torch_args, dependencies = sources.torch_args, TORCH_DEPENDENCIES[flavour]
    if len(torch_args) > 1:  # torch alone from its index, then its dependencies from the usual one
        session.run([*pip, "--no-deps", *torch_args], "Installing torch", (0.05, 0.55))
        session.log("Installing torch's dependencies")
        span, torch_args = (0.55, 0.65), torch_args[-1:]
    else:
        span, dependencies = (0.05, 0.65), dependencies + 1
    session.run([*pip, *torch_args], "Installing torch", span, dependencies)
    session.log("Installing the geospatial and ML packages")
    args = [*pip, "-r", str(REQUIREMENTS)]
    session.run(args, "Installing the packages", (0.65, 0.97), expected_packages(REQUIREMENTS))


def _raw_progress(session: SetupSession, python: Path, pip: list[str]) -> bool:
    """Whether pip prints download progress (``--progress-bar raw``); updates an older pip
    once, quietly, and goes on with it if that fails."""
    version = pip_version(python)
    if version >= RAW_PROGRESS_PIP:
        return True
    wanted = ".".join(map(str, RAW_PROGRESS_PIP))
    session.log(f"Updating pip {version[0]}.{version[1]} to >= {wanted} (download progress)")
    try:
        upgrade = [*pip, "--progress-bar", "off", "--upgrade", f"pip>={wanted}"]
        session.run(upgrade, "Updating pip", (0.03, 0.05), quiet=True)
    except SetupCancelled:
        raise
    except BackendEnvError:
        session.log("  pip stays as it is (see the log file); progress counts packages")
        return False
    return pip_version(python) >= RAW_PROGRESS_PIP


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
