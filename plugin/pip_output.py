"""pip's output during the backend setup, summarised: one line per package (its size and
source), warnings once with a count, errors in full, and progress that follows the packages
(and the bytes, with ``pip --progress-bar raw``)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_SHARE = 0.85  # of a pip run's progress: resolving and fetching; the rest installing
_PROGRESS_LINE = re.compile(r"Progress (\d+) of (\d+)$")
_SIZE = re.compile(r"(.+?)\s+\(([^()]*(?:B|bytes))\)$")  # "x.whl (190.0 MB)", "(1 MB/2 MB)"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SOURCES = {"download": "downloading", "cached": "cached", "local": "local file"}


def canonical_name(name: str) -> str:
    """A project name as pip compares them (PEP 503): ``MarkupSafe`` == ``markupsafe``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_file_line(rest: str) -> tuple[str, str]:
    """``'numpy-2.4.6-...whl (16.9 MB)'`` -> (file, size); a ``(from ...)`` tail is dropped."""
    rest = re.sub(r"\s+\(from .*\)$", "", rest.strip())  # "(from -r f (line 1))" too
    match = _SIZE.match(rest)
    if not match:
        return rest, ""
    return match.group(1), match.group(2).rsplit("/", 1)[-1]


def name_version(file: str) -> tuple[str, str]:
    """(project, version) from a wheel or sdist file name, path or URL."""
    base = urllib.parse.unquote(file.rstrip("/").rsplit("/", 1)[-1])
    if base.endswith(".whl"):
        parts = base[: -len(".whl")].split("-")
        return parts[0], parts[1] if len(parts) > 1 else ""
    for extension in (".tar.gz", ".tar.bz2", ".tgz", ".zip"):
        if base.endswith(extension):
            name, _, version = base[: -len(extension)].rpartition("-")
            return (name, version) if name else (version, "")
    return base, ""


def format_size(size: float) -> str:
    """Bytes as pip prints them (``190.0 MB``, ``73 kB``)."""
    if size > 1000 * 1000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.0f} kB" if size > 10 * 1000 else f"{size / 1e3:.1f} kB"


def _local_size(path: str) -> str:
    try:
        return format_size(Path(path).stat().st_size)
    except OSError:
        return ""


def warning_shape(text: str) -> str:
    """A warning with its particulars (quoted text, paths, numbers) blanked: repeats of one
    warning for package after package have one shape."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\S*/\S*|\d+", "_", text)


@dataclass
class PipPackage:
    name: str
    version: str = ""
    size: str = ""
    source: str = ""  # download, cached, local
    done: float = 0.0  # 0..1: resolved 0.1, then its file fetched


class PipOutput:
    """Reads one pip run's output: one summary line per package (name, version, size),
    "Successfully installed" as a count plus names, warnings and errors in full (repeats
    of one warning counted), and the fraction of the run done, 0..1, never going back.

    ``expected``: about how many packages the run brings in (progress before pip says).
    ``quiet``: problems are kept in ``errors`` but not passed on (an optional step).
    """

    def __init__(
        self,
        log: Callable[[str], None],
        warn: Callable[[str], None],
        progress: Callable[[float], None] = lambda f: None,
        expected: int = 1,
        quiet: bool = False,
    ) -> None:
        self.log, self.warn, self.progress = log, warn, progress
        self.expected, self.quiet = max(1, expected), quiet
        self.packages: dict[str, PipPackage] = {}
        self.satisfied: dict[str, str] = {}  # canonical name -> name
        self.installed: list[str] = []
        self.errors: list[str] = []
        self.fraction = 0.0
        self._warnings: dict[str, int] = {}
        self._first_warning: dict[str, str] = {}
        self._fetching: PipPackage | None = None
        self._installing = self._finished = self._said_satisfied = False
        self._last_problem = ""  # "shown", "hidden" or "error": where continuation lines go

    def feed(self, line: str, stream: str = "out") -> None:
        """One line of pip's stdout (``out``) or stderr (``err``)."""
        if not line.strip():
            return
        if stream == "err":
            self._problem(line)
        else:
            self._event(line.strip())
        self._report()

    def finish(self) -> None:
        """After the run: what is left to say (already installed packages, warning repeats)."""
        self._say_satisfied()
        for shape, count in self._warnings.items():
            if count > 1 and not self.quiet:
                first = self._first_warning[shape]
                self.warn(f'  ({count - 1} more warnings like "{first[:60]}...": see the log file)')

    def _event(self, text: str) -> None:
        match = _PROGRESS_LINE.match(text)
        if match:
            self._bytes(int(match.group(1)), int(match.group(2)))
            return
        for prefix, handler in (
            ("Collecting ", self._collecting),
            ("Downloading ", lambda rest: self._file(rest, "download")),
            ("Resuming download ", lambda rest: self._file(rest, "download")),
            ("Using cached ", lambda rest: self._file(rest, "cached")),
            ("Processing ", lambda rest: self._file(rest, "local")),
            ("Requirement already satisfied: ", self._already),
            ("Installing collected packages: ", self._install),
            ("Successfully installed ", self._installed),
        ):
            if text.startswith(prefix):
                handler(text[len(prefix) :])
                return

    def _package(self, name: str) -> PipPackage:
        return self.packages.setdefault(canonical_name(name), PipPackage(name))

    def _finish_fetch(self) -> None:
        """pip logs the next thing only once a file is fetched: the one in flight is done."""
        if self._fetching is not None:
            self._fetching.done = 1.0
            self._fetching = None

    def _collecting(self, rest: str) -> None:
        self._finish_fetch()
        match = _NAME.match(rest.strip())
        if match:
            package = self._package(match.group(0).rstrip("."))
            package.done = max(package.done, 0.1)

    def _file(self, rest: str, source: str) -> None:
        file, size = split_file_line(rest)
        if file.endswith(".metadata"):  # pip >= 23.3 resolves from metadata first
            return
        self._finish_fetch()
        name, version = name_version(file)
        package = self._package(name)
        if (package.version, package.source) != (version, source):
            size = size or (_local_size(file) if source == "local" else "")
            package.version, package.size, package.source = version, size, source
            details = ", ".join(part for part in (size, _SOURCES[source]) if part)
            self.log(f"  {package.name} {version} ({details})")
        package.done = max(package.done, 0.1) if source == "download" else 1.0
        if source == "download":
            self._fetching = package

    def _bytes(self, current: int, total: int) -> None:
        if self._fetching is None or total <= 0:
            return
        self._fetching.done = max(self._fetching.done, 0.1 + 0.9 * min(1.0, current / total))
        if current >= total:
            self._finish_fetch()

    def _already(self, rest: str) -> None:
        match = _NAME.match(rest.strip())
        if match:
            self.satisfied.setdefault(canonical_name(match.group(0)), match.group(0))

    def _say_satisfied(self) -> None:
        names = [n for key, n in self.satisfied.items() if key not in self.packages]
        if names and not self._said_satisfied:
            self.log(f"  {len(names)} already installed: {', '.join(names)}")
        self._said_satisfied = True

    def _install(self, rest: str) -> None:
        self._finish_fetch()
        self._say_satisfied()
        self._installing = True
        count = len([name for name in rest.split(",") if name.strip()])
        self.log(f"  installing {count} package{'s' if count != 1 else ''}")

    def _installed(self, rest: str) -> None:
        self.installed = [token.rpartition("-")[0] or token for token in rest.split()]
        count = len(self.installed)
        plural = "s" if count != 1 else ""
        self.log(f"  installed {count} package{plural}: {', '.join(self.installed)}")
        self._finished = True

    def _problem(self, line: str) -> None:
        """A stderr line: warnings once per shape, errors (and the rest) always in full."""
        text = line.strip()
        if line[:1].isspace() and self._last_problem:  # a continuation of the line above
            kind = self._last_problem
        elif text.startswith(("WARNING:", "DEPRECATION:")):
            shape = warning_shape(text)
            self._first_warning.setdefault(shape, text)
            self._warnings[shape] = self._warnings.get(shape, 0) + 1
            kind = "shown" if self._warnings[shape] == 1 else "hidden"
        else:
            kind = "error"
        self._last_problem = kind
        if kind == "error":
            self.errors.append(line.rstrip())
        if kind != "hidden" and not self.quiet:
            self.warn(line.rstrip())

    def _report(self) -> None:
        if self._finished:
            fraction = 1.0
        elif self._installing:
            fraction = DOWNLOAD_SHARE
        else:
            got = sum(p.done for p in self.packages.values())
            extra = sum(1 for key in self.satisfied if key not in self.packages)
            total = max(self.expected, len(self.packages) + extra)
            fraction = DOWNLOAD_SHARE * (got + extra) / total
        if fraction > self.fraction + 1e-4:
            self.fraction = fraction
            self.progress(fraction)
