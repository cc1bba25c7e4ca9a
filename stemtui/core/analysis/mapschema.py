"""The JSON schema of ``stemtui analyze SONG --json`` (:meth:`SongMap.to_json`).

A plain dict (JSON Schema draft 2020-12), so scripts can validate what the
command prints; the tests validate the command's output against it with
``jsonschema``.
"""

from __future__ import annotations

from typing import Any

_TIME: dict[str, Any] = {"type": "number", "minimum": 0}
_SPAN: dict[str, Any] = {
    "type": "object",
    "required": ["start", "end", "label"],
    "properties": {"start": _TIME, "end": _TIME, "label": {"type": "string", "minLength": 1}},
}
_CHORD_LABEL = r"^(N|(C|C#|D|Eb|E|F|F#|G|Ab|A|Bb|B):(maj|min))$"

SONG_MAP_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/stemtui/stemtui/song-map.schema.json",
    "title": "stemtui song map",
    "type": "object",
    "required": ["version", "duration", "bpm", "key", "sections", "chords", "bass_notes", "skipped"],
    "properties": {
        "version": {"type": "integer", "minimum": 1},
        "duration": _TIME,
        "bpm": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "key": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^[A-G][#b]?:(maj|min)$"}]},
        "grid": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["bpm", "offset", "beats_per_bar"],
                    "properties": {
                        "bpm": {"type": "number", "exclusiveMinimum": 0},
                        "offset": _TIME,
                        "beats_per_bar": {"type": "integer", "minimum": 1, "maximum": 16},
                        "source": {"type": "string"},
                    },
                },
            ]
        },
        "sections": {
            "type": "array",
            "items": {
                **_SPAN,
                "properties": {**_SPAN["properties"], "label": {"type": "string", "pattern": "^[A-Z][0-9]*$"}},
            },
        },
        "chords": {
            "type": "array",
            "items": {
                **_SPAN,
                "properties": {**_SPAN["properties"], "label": {"type": "string", "pattern": _CHORD_LABEL}},
            },
        },
        "bass_notes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end", "midi"],
                "properties": {"start": _TIME, "end": _TIME, "midi": {"type": "integer", "minimum": 0, "maximum": 127}},
            },
        },
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["analysis", "reason"],
                "properties": {"analysis": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
        "timings": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}
