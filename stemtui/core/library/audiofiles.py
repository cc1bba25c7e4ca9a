"""Reading and writing audio files, stem folders and ``.stem.mp4`` files.

soundfile (libsndfile 1.2) reads WAV, FLAC, Ogg (Vorbis/Opus) and AIFF.
PyAV (which bundles FFmpeg's libraries, so no ffmpeg program is needed) reads
MP3, MP4/M4A/AAC/WMA, stem files, and whatever soundfile rejects. Every
failure a user can cause surfaces as :class:`BadInput` naming the path and a
short reason; raw soundfile/PyAV exceptions never escape.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import av
import mutagen
import numpy as np
import soundfile as sf
import soxr

from stemtui.core.audio.song import SongMeta
from stemtui.core.errors import BadInput
from stemtui.core.library.safeio import check_input_file, part_path, sweep_parts

log = logging.getLogger("stemtui.audiofiles")

#: Lower-case suffixes accepted as audio. soundfile reads WAV, FLAC, Ogg and
#: AIFF; PyAV reads MP3, the MP4 family and WMA.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".mp4", ".aac", ".wma"}
)

#: Stem names of audio streams 1-4 in a Native Instruments stem file.
STEM_MP4_NAMES = ("drums", "bass", "other", "vocals")

#: Output formats: suffix -> (libsndfile format, default subtype).
_WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III")}

_STEM_MP4_SUFFIX = ".stem.mp4"

#: Signatures of the containers libsndfile parses itself: WAV/RF64/W64, AIFF,
#: FLAC, Ogg, CAF, AU. Deliberately not MP3 (see read_audio).
_SOUNDFILE_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"FORM", b"fLaC", b"OggS", b"caff", b".snd")


def _short(exc: BaseException) -> str:
    """One line of an exception's message, for a BadInput reason."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:120]


def _display_name(path: Path) -> str:
    """A human title from a path: ``Song.stem.mp4`` -> ``Song``."""
    name = path.name
    if name.lower().endswith(_STEM_MP4_SUFFIX):
        return name[: -len(_STEM_MP4_SUFFIX)]
    return name if path.is_dir() else path.stem


def _check_file(path: Path) -> bytes:
    """Return the first bytes of ``path``, or raise BadInput with a precise reason.

    Both decoders report a missing or unreadable file as a vague "format not
    recognised" / "system error", and would block forever on a FIFO, so
    :func:`check_input_file` looks first.
    """
    what = str(path)
    check_input_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except PermissionError:
        raise BadInput(what, "unreadable: permission denied") from None
    except OSError as exc:
        raise BadInput(what, f"unreadable: {exc.strerror or _short(exc)}") from None
    if not head:
        raise BadInput(what, "not an audio file")
    return head


def repair_nonfinite(data: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Zero NaN and infinite samples in place, with a one-line warning naming the file.

    Decoded float WAV/FLAC/AIFF can hold them; they would poison the mix, the
    model, and libsndfile's encoders. The warning goes to the
    ``stemtui.audiofiles`` logger: stderr in the CLI (Python's last-resort
    handler), the log file in the UI.

    Returns:
        ``data`` itself.
    """
    # A float64 sum is finite exactly when every float32 sample is (it cannot
    # overflow), and needs no mask the size of the song.
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf: no RuntimeWarning on stderr
        if np.isfinite(np.sum(data, dtype=np.float64)):
            return data
    bad = ~np.isfinite(data)
    count = int(np.count_nonzero(bad))
    data[bad] = 0.0
    log.warning(
        "stemtui: warning: %s: %d non-finite sample%s (NaN or infinity) replaced with silence",
        path,
        count,
        "" if count == 1 else "s",
    )
    return data


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """Convert one decoded PyAV frame to ``(samples, channels)`` float32.

    ``to_ndarray`` gives planar formats (``fltp``) as ``(channels, samples)``
    but packed ones (``s16``) as ``(1, samples * channels)``, interleaved.
    """
    # Typed as a plain array: PyAV's per-format union defeats iinfo() below.
    arr: np.ndarray = frame.to_ndarray()
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, len(frame.layout.channels))
    if arr.dtype == np.uint8:  # 8-bit PCM is unsigned, with its zero at 128
        return (arr.astype(np.float32) - 128.0) / np.float32(128.0)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / np.float32(-np.iinfo(arr.dtype).min)
    return arr.astype(np.float32, copy=False)


def _open_container(path: Path) -> av.container.InputContainer:
    """``av.open`` with FFmpeg errors turned into BadInput."""
    try:
        return av.open(str(path), mode="r")
    except av.error.PermissionError:
        raise BadInput(str(path), "unreadable: permission denied") from None
    except (av.FFmpegError, OSError, EOFError, ValueError):
        # FFmpeg's probe rejected it: whatever the suffix says, not audio.
        raise BadInput(str(path), "not an audio file") from None


def _decode_streams(path: Path, container, streams: list) -> list[tuple[np.ndarray, int]]:
    """Decode ``streams`` of an open container in one demux pass.

    Returns:
        One ``((frames, channels) float32, sample_rate)`` per stream, in order.

    Raises:
        BadInput: If a stream is not real audio, is empty, or is corrupt.
    """
    what = str(path)
    # FFmpeg happily "opens" random bytes named .flac as a FLAC stream with
    # no sample rate: that is garbage, not an empty song.
    if not all(s.codec_context.sample_rate for s in streams):
        raise BadInput(what, "not an audio file")
    chunks: dict[int, list[np.ndarray]] = {s.index: [] for s in streams}
    rates: dict[int, int] = {}
    try:
        for packet in container.demux(*streams):
            for frame in packet.decode():
                idx, chunk = packet.stream.index, _frame_to_float(frame)
                if not chunks[idx]:
                    # HE-AAC headers may announce half the real rate; trust frames.
                    rates[idx] = frame.sample_rate
                elif frame.sample_rate != rates[idx] or chunk.shape[1] != chunks[idx][0].shape[1]:
                    raise BadInput(what, "unreadable: format changes mid-stream")
                chunks[idx].append(chunk)
    except (av.FFmpegError, ValueError) as exc:
        if not any(chunks.values()):
            raise BadInput(what, "not an audio file") from None
        raise BadInput(what, f"unreadable: {_short(exc)}") from None
    if not all(chunks.values()):
        raise BadInput(what, "zero-length audio")
    return [(repair_nonfinite(np.concatenate(chunks[s.index], axis=0), path), rates[s.index]) for s in streams]


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode an audio file.

    Args:
        path: Usually a suffix in :data:`AUDIO_EXTENSIONS` (others are tried
            too). Of a multi-stream MP4 only stream 0 (the mix) is read.

    Returns:
        ``(audio, sample_rate)``, audio a float32 ``(frames, channels)`` array.

    Raises:
        BadInput: ``no such file``, ``is a directory``, ``not an audio file``,
            ``zero-length audio`` or ``unreadable: ...``.
    """
    p = Path(path)
    # libsndfile hands MP3s, and anything it does not recognise, to mpg123,
    # which prints "Illegal Audio-MPEG-Header" notes straight to fd 2 on bad
    # data, garbling the TUI. PyAV stays quiet and decodes MP3 to the same
    # samples and length, so only known non-MP3 signatures go to soundfile.
    if _check_file(p).startswith(_SOUNDFILE_MAGIC):
        try:
            data, rate = sf.read(str(p), dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            pass  # libsndfile rejects some valid files (odd WAV codecs); FFmpeg may not
        else:
            if data.shape[0] == 0:
                raise BadInput(str(p), "zero-length audio")
            return repair_nonfinite(np.ascontiguousarray(data), p), int(rate)
    with _open_container(p) as container:
        if not container.streams.audio:
            raise BadInput(str(p), "not an audio file")
        [(data, rate)] = _decode_streams(p, container, [container.streams.audio[0]])
    return np.ascontiguousarray(data), int(rate)


def resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample ``x`` (frames[, channels]) to float32 at ``sr_to`` with soxr HQ; no-op when equal."""
    x = np.asarray(x, dtype=np.float32)
    if int(sr_from) == int(sr_to):
        return x
    return np.asarray(soxr.resample(x, int(sr_from), int(sr_to), quality="HQ"), dtype=np.float32)


def _to_common_rate(stems: dict[str, tuple[np.ndarray, int]]) -> tuple[dict[str, np.ndarray], int]:
    """Resample every stem once, at load, to the highest rate (no stem loses bandwidth)."""
    rate = max(r for _, r in stems.values())
    return {name: resample(x, r, rate) for name, (x, r) in stems.items()}, rate


def read_stem_mp4(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], int]:
    """Decode a Native Instruments ``.stem.mp4`` into its stems.

    Audio stream 0 is the full mix and is skipped; streams 1-4 are drums,
    bass, other and vocals (extra streams are named ``stem5``, ...).

    Returns:
        ``({name: (frames, channels) float32}, sample_rate)``.

    Raises:
        BadInput: If unreadable, or with fewer than two audio streams (a
            plain MP4 belongs to :func:`read_audio`).
    """
    p = Path(path)
    _check_file(p)
    with _open_container(p) as container:
        audio = list(container.streams.audio)
        if len(audio) < 2:
            raise BadInput(str(p), f"not a .stem.mp4 (found {len(audio)} audio streams)")
        # Demux only the stems: the mix is never decoded, one pass reads all.
        decoded = _decode_streams(p, container, audio[1:])
    names = [STEM_MP4_NAMES[i] if i < len(STEM_MP4_NAMES) else f"stem{i + 1}" for i in range(len(decoded))]
    return _to_common_rate(dict(zip(names, decoded, strict=True)))


MIX_NAMES = frozenset({"mixture", "mix"})


def load_stem_folder(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], int]:
    """Load a folder of stems, one audio file per stem.

    ``Drums.wav`` becomes stem ``drums``; hidden files and subfolders are
    ignored. Lengths may differ (``Song.from_stems`` pads them).

    Returns:
        ``({name: (frames, channels) float32}, sample_rate)``.

    Raises:
        BadInput: ``no audio files in directory``, two files for one stem
            name, or the BadInput of the first bad file.
    """
    folder = Path(path)
    if not folder.exists():
        raise BadInput(str(folder), "no such file")
    if not folder.is_dir():
        raise BadInput(str(folder), "not a directory")
    try:
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file())
    except PermissionError:
        raise BadInput(str(folder), "unreadable: permission denied") from None
    files = [f for f in files if not f.name.startswith(".")]  # macOS "._x.wav" litter
    # MUSDB-style folders also hold the full mix; as a "stem" it would double
    # the audio, so it is left out when real stems sit beside it.
    if len(files) > 1:
        files = [f for f in files if f.stem.lower() not in MIX_NAMES] or files
    if not files:
        raise BadInput(str(folder), "no audio files in directory")
    names = [f.stem.lower() for f in files]
    for name in sorted(set(names)):
        # Checked before decoding; silently dropping one would play half a song.
        if names.count(name) > 1:
            clash = ", ".join(f.name for f in files if f.stem.lower() == name)
            raise BadInput(str(folder), f"more than one file for stem '{name}' ({clash})")
    return _to_common_rate({name: read_audio(f) for name, f in zip(names, files, strict=True)})


def read_tags(path: str | os.PathLike) -> tuple[str, str]:
    """Title and artist from a file's tags; never raises.

    Falls back to the file name (without ``.stem.mp4`` or the suffix) for the
    title and ``""`` for the artist when tags are missing or unreadable.
    """
    p = Path(path)
    title, artist = "", ""
    try:
        tagged = mutagen.File(str(p), easy=True) if p.is_file() else None
        if tagged is not None and tagged.tags is not None:
            # Easy tags map to lists of strings; take the first non-blank one.
            title, artist = (
                next((str(v).strip() for v in tagged.tags.get(key) or [] if str(v).strip()), "")
                for key in ("title", "artist")
            )
    except Exception:  # noqa: BLE001 - tags are cosmetic; any parser error means "none"
        pass
    return (title or _display_name(p.absolute()), artist)


def load_source(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], int, SongMeta]:
    """Load ready-made stems from a folder or a ``.stem.mp4``.

    Returns:
        ``(stems, sample_rate, meta)``; ``meta.source`` is the absolute path.

    Raises:
        BadInput: For a missing path, anything else than a folder or a
            ``.stem.mp4``, or any decode problem.
    """
    p = check_input_file(path, allow_dir=True)
    if p.is_dir():
        stems, rate = load_stem_folder(p)
        title, artist = _display_name(p.absolute()), ""
    elif p.name.lower().endswith(_STEM_MP4_SUFFIX):
        stems, rate = read_stem_mp4(p)
        title, artist = read_tags(p)
    else:
        raise BadInput(str(p), "expected a folder of stems or a .stem.mp4")
    return stems, rate, SongMeta(title=title, artist=artist, source=str(p.absolute()))


def write_audio(path: str | os.PathLike, data: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write audio atomically to ``.wav``, ``.flac`` or ``.mp3``.

    The audio goes to a hidden ``.<name>.<pid>.<random>.part`` file in the same
    folder, renamed over ``path`` only once complete, so a crash or a full
    disk never leaves a truncated export that looks finished.

    Args:
        path: Destination; the suffix picks the format.
        data: ``(frames, channels)`` float audio; libsndfile clips it to
            [-1, 1] for integer subtypes.
        sample_rate: Frames per second.
        subtype: libsndfile subtype (``"PCM_24"``, ``"FLOAT"``...); default
            16-bit PCM for WAV/FLAC, Layer III for MP3.

    Raises:
        BadInput: For an unsupported suffix; other errors propagate after the
            temp file is removed.
    """
    p = Path(path)
    sf_format, default_subtype = _WRITE_FORMATS.get(p.suffix.lower(), (None, None))
    if sf_format is None:
        raise BadInput(str(p), "unsupported output format (use .wav, .flac or .mp3)")
    # Not mkstemp: its 0600 mode would stick to the export after the rename;
    # a random name created by libsndfile gets the user's normal umask. The
    # name carries our pid, so a later write here sweeps it if we get killed.
    sweep_parts(p.parent)
    tmp = str(part_path(p))
    try:
        # format= is required: the .part suffix hides the real one.
        sf.write(tmp, data, int(sample_rate), subtype=subtype or default_subtype, format=sf_format)
        os.replace(tmp, p)
    except BaseException:
        # BaseException too: Ctrl-C mid-export must not leave litter behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
