"""Tests for the synthesized demo song (stemtui.core.library.demo).

Bounds were chosen from measured figures at 44.1 kHz with some margin: stem
RMS is -20/-20/-23/-20 dBFS (drums/bass/chords/vocals), the mix peaks near
0.89, the largest sample step is ~0.35 in the drums (cymbal noise) and under
0.07 in the tonal stems, and stem cross-correlations are below 0.02.
"""

from __future__ import annotations

import ast
import inspect
import itertools

import numpy as np
import pytest

from stemtui.core.library import demo

SR = 44100
NAMES = {"drums", "bass", "chords", "vocals"}


@pytest.fixture(scope="module")
def stems() -> dict[str, np.ndarray]:
    return demo.synthesize(SR)


def _db(x: np.ndarray) -> float:
    rms = np.sqrt(np.mean(np.square(x, dtype=np.float64)))
    return float(20 * np.log10(max(rms, 1e-12)))


def _band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    """Share of the (mono) signal's energy between ``lo`` and ``hi`` Hz."""
    power = np.abs(np.fft.rfft(x.astype(np.float64).mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], 1.0 / SR)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_metadata_constants() -> None:
    assert demo.DEMO_TITLE and isinstance(demo.DEMO_TITLE, str)
    assert demo.DEMO_ARTIST == "stemtui"
    assert isinstance(demo.DEMO_BPM, float) and 60 <= demo.DEMO_BPM <= 180
    assert isinstance(demo.DEMO_VERSION, int) and demo.DEMO_VERSION >= 1
    assert demo.DEMO_BARS > 0 and demo.DEMO_BEATS_PER_BAR == 4
    assert set(demo.DEMO_STEMS) == NAMES


def test_exactly_four_named_stems(stems) -> None:
    assert set(stems) == NAMES


def test_shapes_are_equal_stereo_float32(stems) -> None:
    shapes = {v.shape for v in stems.values()}
    assert len(shapes) == 1
    (shape,) = shapes
    assert len(shape) == 2 and shape[1] == 2
    for v in stems.values():
        assert v.dtype == np.float32
        assert np.all(np.isfinite(v))


def test_duration_matches_the_bars(stems) -> None:
    frames = next(iter(stems.values())).shape[0]
    seconds = frames / SR
    assert 25.0 <= seconds <= 35.0
    # The song is DEMO_BARS bars at DEMO_BPM plus a short ring-out tail.
    body = demo.DEMO_BARS * demo.DEMO_BEATS_PER_BAR * 60.0 / demo.DEMO_BPM
    assert body < seconds <= body + 3.0


def test_deterministic_byte_identical(stems) -> None:
    again = demo.synthesize(SR)
    for name in NAMES:
        assert stems[name].tobytes() == again[name].tobytes(), name


def test_mix_has_headroom(stems) -> None:
    mix = sum(v.astype(np.float64) for v in stems.values())
    assert np.max(np.abs(mix)) < 0.95


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_stem_is_audible(stems, name) -> None:
    assert -30.0 <= _db(stems[name]) <= -12.0


def test_vocal_has_silent_gaps(stems) -> None:
    """Muting the vocal must be obvious: the voice rests between phrases."""
    v = stems["vocals"]
    w = int(0.25 * SR)
    windows = v[: v.shape[0] // w * w].reshape(-1, w, 2)
    levels = np.array([_db(x) for x in windows])
    sung = np.flatnonzero(levels > -40)
    assert sung.size > 0.4 * levels.size  # the voice is there most of the time
    first, last = sung[0], sung[-1]
    inner_silent = np.sum(levels[first:last] < -60)
    assert first >= 4  # an instrumental intro of at least a second
    assert inner_silent >= 8  # several rests between phrases, not one blip


@pytest.mark.parametrize("name", sorted(NAMES))
def test_starts_and_ends_silent(stems, name) -> None:
    x = stems[name]
    assert np.max(np.abs(x[0])) < 1e-4
    assert np.max(np.abs(x[-1])) < 1e-4


@pytest.mark.parametrize(
    ("name", "bound"),
    # Noise-based cymbals legitimately move fast (measured 0.35); the tonal
    # stems measure 0.02-0.06, so a step near their bound is a hard edge.
    [("drums", 0.5), ("bass", 0.1), ("chords", 0.15), ("vocals", 0.15)],
)
def test_no_large_sample_steps(stems, name, bound) -> None:
    step = np.max(np.abs(np.diff(stems[name].astype(np.float64), axis=0)))
    assert step < bound


@pytest.mark.parametrize(
    ("name", "bound"),
    # The second difference of a smooth tone is tiny (bass 0.002, chords
    # 0.008, vocals 0.03 measured), while an unramped note edge puts a kink
    # there of about the note's amplitude (0.08-0.18 with the ramps removed).
    [("bass", 0.02), ("chords", 0.03), ("vocals", 0.08)],
)
def test_no_clicks_at_note_edges(stems, name, bound) -> None:
    kink = np.max(np.abs(np.diff(stems[name].astype(np.float64), n=2, axis=0)))
    assert kink < bound


def test_bass_energy_is_low(stems) -> None:
    assert _band_fraction(stems["bass"], 0, 300) > 0.9


def test_vocal_energy_is_in_the_voice_range(stems) -> None:
    assert _band_fraction(stems["vocals"], 200, 1500) > 0.8


def test_stems_are_mutually_distinguishable(stems) -> None:
    for a, b in itertools.combinations(sorted(NAMES), 2):
        assert abs(_corr(stems[a], stems[b])) < 0.3, (a, b)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_muted_stem_is_absent_from_the_rest_of_the_mix(stems, name) -> None:
    rest = sum(v.astype(np.float64) for k, v in stems.items() if k != name)
    assert abs(_corr(stems[name], rest)) < 0.3


def test_stems_sit_in_different_stereo_places(stems) -> None:
    def balance(x: np.ndarray) -> float:
        left, right = (float(np.sqrt(np.mean(np.square(x[:, i], dtype=np.float64)))) for i in (0, 1))
        return (right - left) / (right + left)

    balances = sorted(balance(v) for v in stems.values())
    assert min(b - a for a, b in itertools.pairwise(balances)) > 0.02


def test_other_sample_rate_keeps_duration() -> None:
    st = demo.synthesize(22050)
    assert set(st) == NAMES
    frames = {v.shape for v in st.values()}
    assert len(frames) == 1
    (shape,) = frames
    full = demo.synthesize(SR)["vocals"].shape[0] / SR
    assert abs(shape[0] / 22050 - full) < 1e-3
    assert np.max(np.abs(sum(st.values()))) < 0.95


def test_rejects_silly_sample_rate() -> None:
    with pytest.raises(ValueError):
        demo.synthesize(100)


def test_imports_numpy_only() -> None:
    tree = ast.parse(inspect.getsource(demo))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots <= {"numpy", "__future__"}
