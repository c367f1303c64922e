"""Every case of the table (cases.py) through the backend's own error path."""

from __future__ import annotations

import io
import json

import pytest
from cases import BASE, Case, cases, expand

CASES = cases()


def _run(case: Case, city, out, capsys) -> tuple[int, list[dict], str]:
    from urbansig.protocol import Events, JobSpec
    from urbansig.runtime import run_reported

    sections = {name: dict(BASE[case.task][name]) for name in ("inputs", "params", "outputs")}
    sections[case.section][case.key] = case.value
    spec = JobSpec(
        task=case.task,
        inputs=expand(sections["inputs"], city, out),
        params=expand(sections["params"], city, out),
        outputs=expand(sections["outputs"], city, out),
        device="cpu",
    )
    stream = io.StringIO()
    code = run_reported(lambda: spec, Events(stream=stream))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    return code, events, capsys.readouterr().err


def test_the_table_covers_every_algorithm_and_kind():
    from urbansig.parameters import TABLE_MODULES

    assert set(BASE) == set(TABLE_MODULES)
    whats = {c.what for c in CASES}
    assert {"missing", "random_bytes", "truncated", "below_min", "an_input", "unwritable"} <= whats
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_named_and_loses_nothing(case, city, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code, events, stderr = _run(case, city, out, capsys)
    errors = [e for e in events if e["event"] == "error"]
    assert errors, f"the run succeeded: {events[-1:]}"
    message = errors[0]["message"]
    assert errors[0]["kind"] == "bad_input" and code == 2, message
    assert any(name in message for name in (case.parameter, *case.names)), message
    assert "Traceback" not in stderr and "Internal error" not in message
    assert "weights_only" not in message  # never invite the unsafe way to load a file
    assert not any(e["event"] == "result" for e in events)
    assert sorted(p.name for p in out.iterdir()) == [], "an output or partial file was left"
