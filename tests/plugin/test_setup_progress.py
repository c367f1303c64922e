"""The backend setup's pip handling: progress that follows the packages (and bytes), a
summarised log with the raw output in a file, and indexes probed so that an offline
machine does not wait on them. The pip output samples below were captured from real runs
(pip 23.2.1 and 26.2.1 on Python 3.11, July 2026), shortened where marked."""

from __future__ import annotations

import socket
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

# pip 23.2.1, `pip install requests numpy==2.4.6` from PyPI, stdout not a terminal: the
# rich bar prints its final state once per file (bar characters shortened).
PIP23_FROM_PYPI = """\
Collecting requests
  Downloading requests-2.34.2-py3-none-any.whl (73 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 73.1/73.1 kB 127.7 MB/s eta 0:00:00
Collecting numpy==2.4.6
  Downloading numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (16.9 MB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 16.9/16.9 MB 104.2 MB/s eta 0:00:00
Collecting charset_normalizer<4,>=2 (from requests)
  Downloading charset_normalizer-3.5.3-cp311-cp311-manylinux1_x86_64.manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl (263 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 263.4/263.4 kB 197.6 MB/s eta 0:00:00
Collecting idna<4,>=2.5 (from requests)
  Downloading idna-3.21-py3-none-any.whl (69 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 69.8/69.8 kB 104.8 MB/s eta 0:00:00
Collecting urllib3<3,>=1.26 (from requests)
  Downloading urllib3-2.8.0-py3-none-any.whl (135 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 135.7/135.7 kB 131.0 MB/s eta 0:00:00
Collecting certifi>=2023.5.7 (from requests)
  Downloading certifi-2026.10.19.post1-py3-none-any.whl (134 kB)
     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 134.0/134.0 kB 162.2 MB/s eta 0:00:00
Installing collected packages: urllib3, numpy, idna, charset_normalizer, certifi, requests
Successfully installed certifi-2026.10.19.post1 charset_normalizer-3.5.3 idna-3.21 numpy-2.4.6 requests-2.34.2 urllib3-2.8.0
"""

# pip 26.2.1 with --progress-bar raw, torch from PyTorch's CPU index (non-PyPI downloads
# are logged as full URLs); the Progress lines (every 0.25 s) shortened to a few.
PIP26_TORCH_RAW = """\
Looking in indexes: https://pypi.org/simple, https://download.pytorch.org/whl/cpu
Collecting torch==2.13.0+cpu
  Downloading https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl (190.0 MB)
Progress 0 of 190012345
Progress 262144 of 190012345
Progress 47503086 of 190012345
Progress 95006172 of 190012345
Progress 142509258 of 190012345
Progress 190012345 of 190012345
Installing collected packages: torch
Successfully installed torch-2.13.0+cpu
"""

# pip 23.2.1 with the machine's local sources: file:// index ("Processing <path>") and a
# second, missing file:// index (paths changed to ones absent here) (one warning per package, on stderr).
PIP23_LOCAL_OUT = """\
Looking in indexes: https://pypi.org/simple, file:///opt/pypi/simple, file:///opt/pypi-more/simple
Looking in links: /opt/wheels
Requirement already satisfied: requests in ./loc/lib/python3.11/site-packages (2.34.2)
Processing /gone/pypi/files/six-1.17.0-py2.py3-none-any.whl
Requirement already satisfied: charset_normalizer<4,>=2 in ./loc/lib/python3.11/site-packages (from requests) (3.5.3)
Processing /gone/pypi/files/urllib3-2.8.0-py3-none-any.whl (from requests)
Installing collected packages: urllib3, six
Successfully installed six-1.17.0 urllib3-2.8.0
"""
PIP23_LOCAL_ERR = """\
WARNING: Location 'file:///opt/pypi-more/simple/requests/' is ignored: it is neither a file nor a directory.
WARNING: Location 'file:///opt/pypi-more/simple/six/' is ignored: it is neither a file nor a directory.
WARNING: Location 'file:///opt/pypi-more/simple/charset-normalizer/' is ignored: it is neither a file nor a directory.
"""

# pip 23.2.1, an index that cannot be reached (--retries 0) and a requirement found nowhere.
PIP23_FAILURE_ERR = """\
WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f970bc39690>: Failed to establish a new connection: [Errno -2] Name or service not known')': /whl/cpu/torch/
ERROR: Could not find a version that satisfies the requirement torch==2.13.0+cpu (from versions: none)
ERROR: No matching distribution found for torch==2.13.0+cpu
"""


@pytest.fixture()
def backend_env():
    from urban_signatures.plugin import backend_env

    return backend_env


@pytest.fixture()
def pip_output():
    from urban_signatures.plugin import pip_output

    return pip_output


def _read(pip_output, out: str, err: str = "", expected: int = 1):
    logged, warned, fractions = [], [], []
    output = pip_output.PipOutput(logged.append, warned.append, fractions.append, expected)
    for line in out.splitlines():
        output.feed(line, "out")
    for line in err.splitlines():
        output.feed(line, "err")
    output.finish()
    return output, logged, warned, fractions


def _rising(fractions: list[float]) -> bool:
    return all(b > a for a, b in zip(fractions, fractions[1:]))


def test_pip23_output_is_one_line_per_package_and_progress_counts_them(pip_output):
    output, logged, warned, fractions = _read(pip_output, PIP23_FROM_PYPI, expected=4)
    assert logged[:2] == [
        "  requests 2.34.2 (73 kB, downloading)",
        "  numpy 2.4.6 (16.9 MB, downloading)",
    ]
    assert (
        logged[-1] == "  installed 6 packages: certifi, charset_normalizer, idna, numpy, "
        "requests, urllib3"
    )
    assert len(logged) == 8 and not warned and not output.errors  # 6 packages, 2 totals
    assert not any("━" in line or "eta" in line for line in logged)
    assert _rising(fractions) and fractions[-1] == 1.0
    assert len(fractions) >= 7  # a step per package, not 0 -> 1


def test_raw_progress_follows_the_bytes_of_a_large_download(pip_output):
    _, logged, _, fractions = _read(pip_output, PIP26_TORCH_RAW)
    assert logged[0] == "  torch 2.13.0+cpu (190.0 MB, downloading)"
    assert logged[-1] == "  installed 1 package: torch"
    assert _rising(fractions) and fractions[-1] == 1.0
    during = [f for f in fractions if f < pip_output.DOWNLOAD_SHARE]
    assert len(during) >= 5  # the download moves the bar: 25 %, 50 %, 75 % ...
    assert during[2] == pytest.approx(pip_output.DOWNLOAD_SHARE * (0.1 + 0.9 * 0.25), abs=0.01)


def test_local_files_satisfied_packages_and_repeated_warnings(pip_output, tmp_path):
    wheel = tmp_path / "tiny-1.0-py3-none-any.whl"
    wheel.write_bytes(b"x" * 20_000)
    out = PIP23_LOCAL_OUT + f"Processing {wheel}\n"
    _, logged, warned, fractions = _read(pip_output, out, PIP23_LOCAL_ERR, expected=3)
    assert "  six 1.17.0 (local file)" in logged  # not on this disk: no size
    assert "  tiny 1.0 (20 kB, local file)" in logged  # size read from the file
    assert "  2 already installed: requests, charset_normalizer" in logged
    assert warned[0] == PIP23_LOCAL_ERR.splitlines()[0]  # the first in full
    assert len(warned) == 2 and "2 more warnings like" in warned[1]
    assert _rising(fractions) and fractions[-1] == 1.0


def test_errors_are_kept_in_full(pip_output):
    output, _, warned, fractions = _read(
        pip_output, "Collecting torch==2.13.0+cpu\n", PIP23_FAILURE_ERR
    )
    assert output.errors == PIP23_FAILURE_ERR.splitlines()[1:]
    assert warned == PIP23_FAILURE_ERR.splitlines()  # the retry warning once, errors in full
    assert fractions and fractions[-1] < pip_output.DOWNLOAD_SHARE


def test_continuation_lines_follow_their_warning(pip_output):
    err = (
        "WARNING: The script f2py is installed in '/x/bin' which is not on PATH.\n"
        "  Consider adding this directory to PATH.\n"
        "WARNING: The script f2py is installed in '/y/bin' which is not on PATH.\n"
        "  Consider adding this directory to PATH.\n"
    )
    output, _, warned, _ = _read(pip_output, "", err)
    assert warned[:2] == err.splitlines()[:2] and len(warned) == 3 and not output.errors


def test_file_names_sizes_and_names(pip_output):
    split, name_version = pip_output.split_file_line, pip_output.name_version
    assert split("x-1.0-py3-none-any.whl (1.0 MB/2.5 MB)") == ("x-1.0-py3-none-any.whl", "2.5 MB")
    assert split("/a b/x-1.0.tar.gz (from y)") == ("/a b/x-1.0.tar.gz", "")
    assert name_version("https://h/whl/torch-2.13.0%2Bcpu-cp311-none-any.whl") == (
        "torch",
        "2.13.0+cpu",
    )
    assert name_version("/w/scikit_learn-1.9.1.tar.gz") == ("scikit_learn", "1.9.1")
    assert pip_output.canonical_name("MarkupSafe") == pip_output.canonical_name("markupsafe")


# --------------------------------------------------------------- a step, run for real

FAKE_PIP = """\
import sys, time
out, err, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
for line in open(out, encoding="utf-8"):
    print(line, end="", flush=True)
for line in open(err, encoding="utf-8"):
    print(line, end="", file=sys.stderr, flush=True)
time.sleep(0.2)
sys.exit(code)
"""


def _session(backend_env, tmp_path, messages, fractions):
    return backend_env.SetupSession(
        tmp_path / backend_env.SETUP_LOG, messages.append, messages.append, fractions.append
    )


def _fake_pip(tmp_path, out: str, err: str, code: int) -> list[str]:
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    (tmp_path / "out.txt").write_text(out, encoding="utf-8")
    (tmp_path / "err.txt").write_text(err, encoding="utf-8")
    return [
        sys.executable,
        str(script),
        str(tmp_path / "out.txt"),
        str(tmp_path / "err.txt"),
        str(code),
    ]


def test_a_step_logs_a_summary_and_keeps_every_raw_line_in_the_log_file(backend_env, tmp_path):
    messages, fractions = [], []
    session = _session(backend_env, tmp_path, messages, fractions)
    try:
        session.run(_fake_pip(tmp_path, PIP23_FROM_PYPI, "", 0), "Installing", (0.2, 0.6), 6)
    finally:
        session.close()
    raw = (tmp_path / backend_env.SETUP_LOG).read_text(encoding="utf-8")
    for line in PIP23_FROM_PYPI.splitlines():
        assert line in raw  # nothing lost
    assert len(messages) == 8
    assert _rising(fractions) and 0.2 < fractions[0] and fractions[-1] == pytest.approx(0.6)


def test_a_failing_step_says_the_errors_and_where_the_log_is(backend_env, tmp_path):
    messages, fractions = [], []
    session = _session(backend_env, tmp_path, messages, fractions)
    args = _fake_pip(tmp_path, "Collecting torch==2.13.0+cpu\n", PIP23_FAILURE_ERR, 1)
    with pytest.raises(backend_env.BackendEnvError) as caught:
        session.run(args, "Installing torch", (0.05, 0.55))
    session.close()
    text = str(caught.value)
    assert text.startswith("Installing torch failed (exit code 1):")
    assert "ERROR: No matching distribution found for torch==2.13.0+cpu" in text
    assert str(tmp_path / backend_env.SETUP_LOG) in text and "Retrying" not in text


def _tiny_wheel(folder: Path) -> Path:
    """A minimal valid wheel, so that a real pip installs something without any index."""
    wheel = folder / "urbansig_tiny-1.0-py3-none-any.whl"
    files = {
        "urbansig_tiny.py": "X = 1\n",
        "urbansig_tiny-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: urbansig-tiny\nVersion: 1.0\n",
        "urbansig_tiny-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "urbansig_tiny-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in {**files, "urbansig_tiny-1.0.dist-info/RECORD": record}.items():
            archive.writestr(name, text)
    return wheel


def test_a_real_pip_run_is_summarised(backend_env, tmp_path):
    """The backend environment's own pip, installing into a folder of the test (--target)."""
    python = backend_env.backend_python()
    wheel = _tiny_wheel(tmp_path)
    messages, fractions = [], []
    session = _session(backend_env, tmp_path, messages, fractions)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-index"]
    try:
        session.run([*pip, "--target", str(tmp_path / "t"), str(wheel)], "Installing", (0, 1))
    finally:
        session.close()
    assert (tmp_path / "t" / "urbansig_tiny.py").exists()
    assert messages[0].startswith("  urbansig_tiny 1.0 (") and "local file" in messages[0]
    assert messages[-1] == "  installed 1 package: urbansig-tiny"
    assert (
        "Successfully installed urbansig-tiny-1.0" in (tmp_path / backend_env.SETUP_LOG).read_text()
    )
    assert _rising(fractions) and fractions[-1] == 1.0


def test_raw_progress_is_used_from_pip_24_1(backend_env, tmp_path, monkeypatch):
    monkeypatch.setattr(backend_env, "pip_version", lambda python: (26, 2))
    session = _session(backend_env, tmp_path, [], [])
    assert backend_env._raw_progress(session, Path("python"), ["pip"])  # nothing run
    session.close()


# ------------------------------------------------------------------- offline indexes


@pytest.fixture()
def silent_server():
    """A TCP server that accepts connections and never answers (an index that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.fixture()
def answering_server():
    """An HTTP server that answers 404 to everything (it is there, so it counts)."""

    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server API
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_probe_returns_within_its_timeout(backend_env, silent_server, answering_server):
    closed = f"http://127.0.0.1:{_closed_port()}/simple"
    unroutable = "https://10.255.255.1/simple"  # hangs on most networks
    urls = [silent_server, f"{silent_server}/again", closed, answering_server, unroutable]
    urls.append("file:///opt/pypi/simple")
    started = time.monotonic()
    answered = backend_env.probe_indexes(urls, timeout_s=1.0)
    assert time.monotonic() - started < 1.5  # side by side: one timeout in all
    assert answered[silent_server] is False and answered[closed] is False
    assert answered[answering_server] is True and answered["file:///opt/pypi/simple"] is True


def test_offline_torch_index_goes_straight_to_the_fallback(
    backend_env, monkeypatch, silent_server, answering_server
):
    monkeypatch.setattr(backend_env, "CPU_TORCH_INDEX", silent_server)
    config = {
        "global.index-url": f"http://127.0.0.1:{_closed_port()}/simple",
        "global.extra-index-url": f"{answering_server} file:///opt/pypi/simple",
        ":env:.default-timeout": "180",
    }
    monkeypatch.setattr(backend_env, "pip_config", lambda python: config)
    monkeypatch.setattr(sys, "platform", "linux")
    said: list[str] = []
    started = time.monotonic()
    sources = backend_env.plan_sources(Path("python"), "cpu", None, None, said.append, 1.0)
    assert time.monotonic() - started < 1.5
    assert sources.torch_args == [backend_env.torch_requirement()]  # no +cpu, no extra index
    assert len(said) == 1 and said[0].startswith("No answer from 127.0.0.1:")
    assert sources.env == {
        "PIP_INDEX_URL": answering_server,
        "PIP_EXTRA_INDEX_URL": "file:///opt/pypi/simple",
    }
    assert sources.options == ["--retries", str(backend_env.PIP_RETRIES)]  # timeout: the user's


def test_nothing_answers_means_local_sources_only(backend_env, monkeypatch, silent_server):
    monkeypatch.setattr(
        backend_env, "pip_config", lambda python: {"global.index-url": silent_server}
    )
    sources = backend_env.plan_sources(Path("python"), "cuda", None, None, lambda m: None, 0.5)
    assert sources.env == {"PIP_NO_INDEX": "1"} and "WHEEL_DIR" in sources.hint
    assert sources.options == ["--timeout", "30", "--retries", "2"]


def test_a_given_torch_index_that_does_not_answer_is_an_error(
    backend_env, monkeypatch, silent_server, answering_server
):
    monkeypatch.setattr(
        backend_env, "pip_config", lambda python: {"global.index-url": answering_server}
    )
    with pytest.raises(backend_env.BackendEnvError, match="does not answer"):
        backend_env.plan_sources(Path("python"), "cpu", None, silent_server, lambda m: None, 0.5)


def test_answering_indexes_are_left_as_configured(backend_env, monkeypatch, answering_server):
    monkeypatch.setattr(backend_env, "CPU_TORCH_INDEX", answering_server)
    monkeypatch.setattr(
        backend_env, "pip_config", lambda python: {"global.index-url": answering_server}
    )
    monkeypatch.setattr(sys, "platform", "linux")
    said: list[str] = []
    sources = backend_env.plan_sources(Path("python"), "cpu", None, None, said.append, 1.0)
    assert sources.torch_args[-1].endswith("+cpu") and sources.env == {} and said == []


def test_a_wheel_folder_probes_nothing(backend_env, monkeypatch, tmp_path):
    monkeypatch.setattr(backend_env, "pip_config", lambda python: pytest.fail("probed"))
    sources = backend_env.plan_sources(Path("python"), "cpu", tmp_path, None, lambda m: None)
    assert sources.options == ["--no-index", "--find-links", str(tmp_path.resolve())]


def test_pip26_requirement_file_lines(pip_output):
    """pip 26.3, ``pip install -r requirements.txt`` from a local file:// index."""
    out = (
        "Processing /gone/files/requests-2.34.2-py3-none-any.whl (from -r /tmp/r.txt (line 1))\n"
        "Collecting idna<4,>=2.5 (from requests==2.34.2->-r /tmp/r.txt (line 1))\n"
        "  Downloading idna-3.21-py3-none-any.whl (69 kB)\n"
    )
    _, logged, _, _ = _read(pip_output, out)
    assert logged == ["  requests 2.34.2 (local file)", "  idna 3.21 (69 kB, downloading)"]
