import io
import json

import pytest

from urbansig.protocol import SPEC_VERSION, BadInput, Cancelled, Events, JobSpec


def test_spec_round_trip():
    spec = JobSpec(task="createh3grid", inputs={"extent": "0,0,1,1"}, params={"resolution": 5})
    again = JobSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.version == SPEC_VERSION


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 99, "task": "x"}, "version 99"),
        ({"version": SPEC_VERSION}, "no 'task'"),
        ({"version": SPEC_VERSION, "task": "x", "bogus": 1}, "bogus"),
        ({"version": SPEC_VERSION, "task": "x", "device": "tpu"}, "DEVICE"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_specs_are_named(data, message):
    with pytest.raises(BadInput, match=message):
        JobSpec.from_dict(data)


def test_events_are_json_lines():
    stream = io.StringIO()
    events = Events(stream, min_interval=0.0)
    events.progress(0.5, "half")
    events.log("hello")
    events.metric("ari", 0.9)
    events.warning("careful")
    events.result({"output": "/x.gpkg"}, {"n": 3})
    events.error("broken", "bad_input")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in lines] == [
        "progress",
        "log",
        "metric",
        "warning",
        "result",
        "error",
    ]
    assert lines[0] == {"event": "progress", "fraction": 0.5, "message": "half"}
    assert lines[4]["outputs"] == {"output": "/x.gpkg"} and lines[4]["metrics"] == {"n": 3}
    assert lines[5]["kind"] == "bad_input"


def test_stage_maps_progress_into_its_range():
    stream = io.StringIO()
    events = Events(stream, min_interval=0.0)
    events.stage(0.5, 0.7).stage(0.5, 1.0).progress(0.5, "x")
    assert json.loads(stream.getvalue())["fraction"] == pytest.approx(0.65)


def test_progress_is_rate_limited_but_keeps_ends():
    stream = io.StringIO()
    events = Events(stream, min_interval=60.0)
    for i in range(100):
        events.progress(i / 100)
    events.progress(1.0)
    fractions = [json.loads(line)["fraction"] for line in stream.getvalue().splitlines()]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and len(fractions) <= 3


def test_cancel_flag():
    events = Events(io.StringIO())
    events.check_cancelled()
    events.cancel()
    with pytest.raises(Cancelled):
        events.check_cancelled()


def test_metrics_are_rounded_to_what_they_mean():
    import io
    import json

    from urbansig.protocol import Events, tidy

    assert tidy({"r2": 0.19079069827437334, "km": [8.5811, 456.9594], "n": 14293}) == {
        "r2": 0.1908,
        "km": [8.581, 457.0],
        "n": 14293,
    }
    assert tidy(37273.4) == 37273.0 and tidy(0.0) == 0.0 and tidy("auto") == "auto"
    stream = io.StringIO()
    Events(stream).result({}, {"ari": 0.80812345})
    assert json.loads(stream.getvalue())["metrics"] == {"ari": 0.8081}
