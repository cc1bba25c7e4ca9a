"""Tests for stemtui.core.library.audiofiles: decoding, stem files, folders, writing."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import BadInput
from stemtui.core.library import audiofiles as audio_io
from stemtui.core.library.audiofiles import (
    AUDIO_EXTENSIONS,
    load_source,
    load_stem_folder,
    read_audio,
    read_stem_mp4,
    read_tags,
    resample,
    write_audio,
)


# -- helpers ---------------------------------------------------------------
def sine(freq: float, sr: int = 44100, seconds: float = 1.0, channels: int = 2, amp: float = 0.5):
    """A (frames, channels) float32 sine."""
    t = np.arange(int(sr * seconds)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def peak_hz(x: np.ndarray, sr: int) -> float:
    """The dominant frequency of channel 0, from a windowed FFT."""
    mono = x[:, 0] if x.ndim == 2 else x
    spec = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.argmax(spec) * sr / len(mono))


def encode_aac(
    path: Path, signals: list, sr: int = 44100, title: str = "", artist: str = "", cover: bool = False
) -> None:
    """Write each (frames, 2) signal as its own AAC stream with PyAV.

    With ``cover``, a one-frame PNG video stream comes first, like the cover
    art in Native Instruments stem files.
    """
    with av.open(str(path), "w") as out:
        if title:
            out.metadata["title"] = title
        if artist:
            out.metadata["artist"] = artist
        if cover:  # every stream must exist before the first packet is muxed
            video = out.add_stream("png", rate=1)
            video.width, video.height, video.pix_fmt = 16, 16, "rgb24"
        streams = []
        for _ in signals:
            s = out.add_stream("aac", rate=sr)
            s.layout = "stereo"
            streams.append(s)
        if cover:
            image = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            for packet in [*video.encode(image), *video.encode(None)]:
                out.mux(packet)
        for stream, x in zip(streams, signals, strict=True):
            planar = np.ascontiguousarray(x.T)  # the AAC encoder wants fltp
            for i in range(0, planar.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(planar[:, i : i + 1024]), format="fltp", layout="stereo"
                )
                frame.sample_rate = sr
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)


def assert_bad(exc_info, path, reason: str) -> None:
    """The BadInput names the path and carries the expected reason."""
    msg = str(exc_info.value)
    assert str(path) in msg
    assert reason in msg


# -- read_audio ------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "fmt", "subtype", "sr"),
    [
        (".wav", "WAV", "PCM_16", 44100),
        (".flac", "FLAC", "PCM_24", 48000),
        (".ogg", "OGG", "VORBIS", 44100),
        (".opus", "OGG", "OPUS", 48000),
        (".mp3", "MP3", "MPEG_LAYER_III", 44100),
        (".aiff", "AIFF", "PCM_16", 22050),
    ],
)
def test_read_audio_round_trip(tmp_path, suffix, fmt, subtype, sr):
    path = tmp_path / f"tone{suffix}"
    sf.write(path, sine(440, sr), sr, format=fmt, subtype=subtype)
    data, rate = read_audio(path)
    assert rate == sr
    assert data.dtype == np.float32 and data.ndim == 2 and data.shape[1] == 2
    assert data.shape[0] == sr  # gapless: encoder delay and padding trimmed
    assert abs(peak_hz(data, rate) - 440) < 3


def test_read_audio_mono_is_2d(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, sine(440, channels=1)[:, 0], 44100)
    data, _ = read_audio(path)
    assert data.shape == (44100, 1)


@pytest.mark.parametrize("suffix", [".m4a", ".aac"])
def test_read_audio_aac_via_pyav(tmp_path, suffix):
    path = tmp_path / f"tone{suffix}"
    encode_aac(path, [sine(440)])
    data, rate = read_audio(path)
    assert rate == 44100
    assert data.dtype == np.float32 and data.shape[1] == 2
    # AAC adds encoder delay and pads to whole 1024-sample frames.
    assert 44100 <= data.shape[0] <= 44100 + 3 * 1024
    assert abs(peak_hz(data, rate) - 440) < 3


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_U8", "PCM_32", "DOUBLE"])
def test_read_audio_falls_back_to_pyav_for_packed_pcm(tmp_path, monkeypatch, subtype):
    # A WAV that libsndfile rejects is still decoded via PyAV, whose packed
    # frames must be de-interleaved into (frames, channels) and scaled.
    path = tmp_path / "lr.wav"
    left, right = sine(300, channels=1), sine(700, channels=1)
    sf.write(path, np.hstack([left, right]), 44100, subtype=subtype)

    def refuse(*_args, **_kwargs):
        raise sf.LibsndfileError(1, "Error opening: ")

    monkeypatch.setattr(audio_io.sf, "read", refuse)
    data, rate = read_audio(path)
    assert data.shape == (44100, 2) and data.dtype == np.float32
    assert abs(peak_hz(data[:, :1], rate) - 300) < 3
    assert abs(peak_hz(data[:, 1:], rate) - 700) < 3
    assert np.max(np.abs(data)) == pytest.approx(0.5, abs=1e-2)


def test_read_audio_plain_stem_mp4_gives_the_mix(tmp_path):
    path = tmp_path / "song.stem.mp4"
    encode_aac(path, [sine(f, seconds=0.5) for f in (1000, 200, 300, 400, 500)])
    data, _ = read_audio(path)
    assert abs(peak_hz(data, 44100) - 1000) < 5


# -- bad inputs ------------------------------------------------------------
def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "no such file")


def test_directory_given_to_read_audio(tmp_path):
    with pytest.raises(BadInput) as ei:
        read_audio(tmp_path)
    assert_bad(ei, tmp_path, "is a directory")


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "not an audio file")


@pytest.mark.parametrize("suffix", [".flac", ".wav", ".mp3", ".ogg", ".m4a", ".aac", ".mp4"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(1).bytes(20000))
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "not an audio file")


def test_garbage_prints_nothing_to_stderr(tmp_path, capfd):
    # libsndfile passes unknown data to mpg123, which writes "Illegal
    # Audio-MPEG-Header" notes straight to fd 2 and would garble the TUI.
    for suffix in (".wav", ".mp3", ".flac", ".m4a"):
        path = tmp_path / f"noise{suffix}"
        path.write_bytes(np.random.default_rng(1).bytes(20000))  # seed 1 makes mpg123 talk
        with pytest.raises(BadInput):
            read_audio(path)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "not an audio file")


def test_zero_length_wav(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros((0, 2), np.float32), 44100)
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "zero-length audio")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    sf.write(path, sine(440), 44100)

    def deny(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    # Root ignores chmod, so simulate the refusal at the module's open().
    monkeypatch.setattr(audio_io, "open", deny, raising=False)
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "unreadable: permission denied")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read mode-000 files")
def test_unreadable_file_chmod(tmp_path):
    path = tmp_path / "locked.wav"
    sf.write(path, sine(440), 44100)
    path.chmod(0)
    with pytest.raises(BadInput) as ei:
        read_audio(path)
    assert_bad(ei, path, "unreadable")


# -- .stem.mp4 -------------------------------------------------------------
def test_read_stem_mp4(tmp_path):
    path = tmp_path / "Song.stem.mp4"
    freqs = {"mix": 1000, "drums": 200, "bass": 100, "other": 600, "vocals": 880}
    encode_aac(path, [sine(f, seconds=1.0) for f in freqs.values()], cover=True)
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video"] + ["audio"] * 5
    stems, rate = read_stem_mp4(path)
    assert rate == 44100
    assert set(stems) == {"drums", "bass", "other", "vocals"}
    for name, x in stems.items():
        assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 2
        assert abs(peak_hz(x, rate) - freqs[name]) < 3, name


def test_read_stem_mp4_rejects_single_stream(tmp_path):
    path = tmp_path / "plain.stem.mp4"
    encode_aac(path, [sine(440, seconds=0.3)])
    with pytest.raises(BadInput) as ei:
        read_stem_mp4(path)
    assert_bad(ei, path, "not a .stem.mp4 (found 1 audio streams)")


def test_read_stem_mp4_garbage(tmp_path):
    path = tmp_path / "junk.stem.mp4"
    path.write_text("not a movie")
    with pytest.raises(BadInput) as ei:
        read_stem_mp4(path)
    assert_bad(ei, path, "not an audio file")


# -- stem folders ----------------------------------------------------------
def test_load_stem_folder_mixed_rates_and_channels(tmp_path):
    sf.write(tmp_path / "Drums.wav", sine(200, 44100, channels=1), 44100)
    sf.write(tmp_path / "bass.flac", sine(100, 48000, channels=2), 48000)
    sf.write(tmp_path / "VOCALS.mp3", sine(440, 44100, channels=2), 44100)
    (tmp_path / "notes.txt").write_text("ignore me")
    sf.write(tmp_path / ".hidden.wav", sine(50), 44100)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "guitar.wav", sine(50), 44100)

    stems, rate = load_stem_folder(tmp_path)
    assert rate == 48000
    assert set(stems) == {"drums", "bass", "vocals"}
    assert stems["drums"].shape[1] == 1 and stems["bass"].shape[1] == 2
    for name, f in {"drums": 200, "bass": 100, "vocals": 440}.items():
        x = stems[name]
        assert x.dtype == np.float32
        assert abs(x.shape[0] - 48000) <= 2400, name
        assert abs(peak_hz(x, rate) - f) < 3, name


def test_empty_folder(tmp_path):
    with pytest.raises(BadInput) as ei:
        load_stem_folder(tmp_path)
    assert_bad(ei, tmp_path, "no audio files in directory")


def test_folder_with_only_text(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(BadInput) as ei:
        load_stem_folder(tmp_path)
    assert_bad(ei, tmp_path, "no audio files in directory")


def test_folder_with_bad_file_names_that_file(tmp_path):
    sf.write(tmp_path / "drums.wav", sine(200), 44100)
    bad = tmp_path / "vocals.wav"
    bad.write_text("nope")
    with pytest.raises(BadInput) as ei:
        load_stem_folder(tmp_path)
    assert_bad(ei, bad, "not an audio file")


def test_folder_with_duplicate_stem_names(tmp_path):
    sf.write(tmp_path / "drums.wav", sine(200), 44100)
    sf.write(tmp_path / "Drums.flac", sine(200), 44100)
    with pytest.raises(BadInput) as ei:
        load_stem_folder(tmp_path)
    assert_bad(ei, tmp_path, "more than one file for stem 'drums' (Drums.flac, drums.wav)")


# -- load_source and tags --------------------------------------------------
def test_load_source_folder(tmp_path):
    folder = tmp_path / "My Song"
    folder.mkdir()
    sf.write(folder / "drums.wav", sine(200, seconds=0.2), 44100)
    sf.write(folder / "bass.wav", sine(100, seconds=0.3), 44100)
    stems, rate, meta = load_source(folder)
    assert set(stems) == {"drums", "bass"} and rate == 44100
    assert meta.title == "My Song" and meta.artist == ""
    assert meta.source == str(folder.absolute())


def test_load_source_stem_mp4_with_tags(tmp_path):
    path = tmp_path / "track.STEM.mp4"
    signals = [sine(f, seconds=0.3) for f in (1000, 200, 100, 600, 880)]
    encode_aac(path, signals, title="Tagged", artist="Band")
    stems, rate, meta = load_source(path)
    assert list(stems) == ["drums", "bass", "other", "vocals"] and rate == 44100
    assert (meta.title, meta.artist) == ("Tagged", "Band")
    assert meta.source == str(path.absolute())


def test_load_source_stem_mp4_title_fallback(tmp_path):
    path = tmp_path / "Untagged Song.stem.mp4"
    encode_aac(path, [sine(f, seconds=0.3) for f in (1000, 200)])
    stems, _, meta = load_source(path)
    assert list(stems) == ["drums"]
    assert (meta.title, meta.artist) == ("Untagged Song", "")


def test_load_source_rejects_plain_file(tmp_path):
    path = tmp_path / "song.wav"
    sf.write(path, sine(440, seconds=0.1), 44100)
    with pytest.raises(BadInput) as ei:
        load_source(path)
    assert_bad(ei, path, "expected a folder of stems or a .stem.mp4")


def test_load_source_missing(tmp_path):
    path = tmp_path / "gone.stem.mp4"
    with pytest.raises(BadInput) as ei:
        load_source(path)
    assert_bad(ei, path, "no such file")


def test_read_tags_never_raises(tmp_path):
    junk = tmp_path / "Junk Title.mp3"
    junk.write_bytes(b"\x00" * 100)
    assert read_tags(junk) == ("Junk Title", "")
    assert read_tags(tmp_path / "missing.flac") == ("missing", "")
    assert read_tags(tmp_path / "x.stem.mp4") == ("x", "")
    tagged = tmp_path / "t.flac"
    sf.write(tagged, sine(440, seconds=0.1), 44100)
    import mutagen

    f = mutagen.File(str(tagged), easy=True)
    f["title"], f["artist"] = "Flac Title", "Flac Artist"
    f.save()
    assert read_tags(tagged) == ("Flac Title", "Flac Artist")


def test_id3_tagged_mp3_reads_and_tags(tmp_path):
    from mutagen.easyid3 import EasyID3

    path = tmp_path / "song.mp3"
    sf.write(path, sine(440), 44100, format="MP3")
    tags = EasyID3()
    tags["title"], tags["artist"] = "Mp3 Title", "Mp3 Artist"
    tags.save(path)
    assert path.read_bytes()[:3] == b"ID3"
    assert read_tags(path) == ("Mp3 Title", "Mp3 Artist")
    data, rate = read_audio(path)
    assert abs(peak_hz(data, rate) - 440) < 3


# -- writing and resampling ------------------------------------------------
@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_write_audio_round_trip(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    write_audio(path, sine(440), 44100)
    data, rate = read_audio(path)
    assert rate == 44100 and data.shape[1] == 2
    assert abs(peak_hz(data, rate) - 440) < 3
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_audio_default_subtype_and_override(tmp_path):
    write_audio(tmp_path / "a.wav", sine(440, seconds=0.1), 44100)
    write_audio(tmp_path / "b.wav", sine(440, seconds=0.1), 44100, subtype="FLOAT")
    assert sf.info(tmp_path / "a.wav").subtype == "PCM_16"
    assert sf.info(tmp_path / "b.wav").subtype == "FLOAT"


def test_write_audio_replaces_existing(tmp_path):
    path = tmp_path / "out.wav"
    path.write_text("old")
    write_audio(path, sine(440, seconds=0.1), 44100)
    assert sf.info(path).frames == 4410


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 2, 2), np.float32), np.array([["a", "b"]]), np.zeros((10, 0), np.float32)]
)
def test_write_audio_failure_leaves_nothing(tmp_path, bad):
    path = tmp_path / "out.wav"
    with pytest.raises((ValueError, sf.SoundFileError)):
        write_audio(path, bad, 44100)
    assert list(tmp_path.iterdir()) == []


def test_write_audio_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.flac"
    write_audio(path, sine(440, seconds=0.1), 44100)
    before = path.read_bytes()

    def half_write(file, _data, _samplerate, **_kwargs):
        Path(file).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audio_io.sf, "write", half_write)
    with pytest.raises(OSError):
        write_audio(path, sine(440, seconds=0.1), 44100)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_write_audio_unsupported_suffix(tmp_path):
    path = tmp_path / "out.ogg"
    with pytest.raises(BadInput) as ei:
        write_audio(path, sine(440, seconds=0.1), 44100)
    assert_bad(ei, path, "unsupported output format (use .wav, .flac or .mp3)")
    assert list(tmp_path.iterdir()) == []


def test_resample():
    x = sine(440, 44100)
    assert resample(x, 44100, 44100) is not None
    np.testing.assert_array_equal(resample(x, 44100, 44100), x)
    y = resample(x, 44100, 48000)
    assert y.dtype == np.float32 and y.shape == (48000, 2)
    assert abs(peak_hz(y, 48000) - 440) < 3


def test_audio_extensions_are_lower_case_suffixes():
    assert {".wav", ".flac", ".mp3", ".m4a", ".ogg"} <= AUDIO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in AUDIO_EXTENSIONS)


def test_module_does_not_import_heavy_deps():
    import subprocess
    import sys

    code = "import sys, stemtui.core.library.audiofiles; print(sorted({'torch', 'textual'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert "subprocess" not in Path(audio_io.__file__).read_text()  # never shells out to ffmpeg


def test_stem_folder_skips_the_full_mix(tmp_path):
    """A MUSDB-style folder's mixture.wav is not a stem."""
    import soundfile as sf

    from stemtui.core.library.audiofiles import load_stem_folder

    t = np.arange(4410) / 44100
    for name in ("mixture", "vocals", "bass"):
        sf.write(tmp_path / f"{name}.wav", 0.1 * np.sin(2 * np.pi * 220 * t), 44100)
    stems, _ = load_stem_folder(tmp_path)
    assert sorted(stems) == ["bass", "vocals"]
