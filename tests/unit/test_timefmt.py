"""Parsing of times, loops and volumes as typed on the command line."""

from __future__ import annotations

import pytest

from stemtui.core.errors import BadInput
from stemtui.core.timefmt import format_gain, format_time, parse_gain, parse_loop, parse_time


@pytest.mark.parametrize(
    "text,seconds",
    [("45", 45.0), ("45.5", 45.5), ("0:30.250", 30.25), ("1:02", 62.0), ("1:00:01.5", 3601.5), (".5", 0.5)],
)
def test_parse_time(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1:75", "-3", "1:2:3:4", "0:30,5"])
def test_parse_time_rejects(text):
    with pytest.raises(BadInput) as exc:
        parse_time(text, "--from")
    assert ("--from" in str(exc.value) and "not a time" in str(exc.value)) or "below 60" in str(exc.value)


def test_parse_loop():
    assert parse_loop("0:30.0-0:45.5") == (30.0, 45.5)
    for bad in ["0:30", "0:45-0:30", "a-b"]:
        with pytest.raises(BadInput):
            parse_loop(bad)


@pytest.mark.parametrize(
    "text,gain", [("-6dB", 0.5011872), ("0 dB", 1.0), ("50%", 0.5), ("1.5", 1.5), ("+6dB", 1.9952623)]
)
def test_parse_gain(text, gain):
    assert parse_gain(text) == pytest.approx(gain, rel=1e-5)


@pytest.mark.parametrize("text", ["loud", "300%", "-1", "+7dB"])
def test_parse_gain_rejects(text):
    with pytest.raises(BadInput):
        parse_gain(text)


def test_formatting():
    assert format_time(75.25, 2) == "1:15.25"
    assert format_time(3725.0, 0) == "1:02:05"
    assert format_gain(0.5) == "-6.0 dB"
    assert format_gain(0.0) == "-inf dB"
