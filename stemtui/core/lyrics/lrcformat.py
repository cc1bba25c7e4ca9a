"""LRC lyrics: the record, the parser (read as well as it can be) and the writer.

Reading follows what most players do:

- ``[mm:ss.xx]`` time tags (also ``[mm:ss]``, ``[mm:ss:xx]``, ``[h:mm:ss.xx]``)
  start a line; a line with several tags appears at each of its times;
- ``[offset:+250]`` shifts every line 250 ms *earlier* (a negative offset later);
- metadata tags (``[ar:]``, ``[ti:]``, ``[al:]``, ``[length:]``, ...) are kept
  aside, and untimed lines of a timed file are skipped;
- lines are sorted by time (stable: equal times keep the file's order);
- enhanced LRC's word tags (``<mm:ss.xx>word``) become word times, the line's
  text has no tags;
- bytes are decoded as UTF-8 (a BOM is dropped), UTF-16 with a BOM, else
  cp1252, else latin-1.

A file with no timed line is plain text: each non-blank line is an untimed
line (``time`` ``None``), to be timed in the player's tap mode. Binary data
(a WAV renamed ``.lrc``) is refused in one line. No Textual here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from stemtui.core.errors import BadInput

#: Longest lyrics file read (a song's lyrics are a few kB).
MAX_BYTES = 1 << 20
#: ``[mm:ss.xx]``, ``[mm:ss]``, ``[mm:ss:xx]``, ``[h:mm:ss.xx]`` (hours only with a ``.`` fraction).
_TIME = r"(?:(\d+):(?=\d{1,2}:\d{1,2}\.))?(\d+):(\d{1,2})(?:[.:](\d{1,3}))?"
_LINE_TAG = re.compile(r"\s*\[" + _TIME + r"\]")
_WORD_TAG = re.compile(r"<" + _TIME + r">")
_META = re.compile(r"^\s*\[([A-Za-z#][A-Za-z0-9_ #-]*):([^\]]*)\]\s*$")


@dataclass(frozen=True)
class Word:
    """One word (or syllable) of enhanced LRC: the song time it starts at and its text."""

    time: float
    text: str


@dataclass(frozen=True)
class LyricLine:
    """One line: its song time in seconds (``None``: not timed yet), its text and its word times."""

    time: float | None
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Lyrics:
    """A song's lyrics, in song order (timed lines sorted by time).

    Attributes:
        lines: The lines; all timed, none timed, or (tap mode part done) timed ones first.
        meta: The file's metadata tags (``ar``, ``ti``, ``al``, ``length``, ``offset``, ...).
    """

    lines: tuple[LyricLine, ...]
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def timed(self) -> bool:
        """Whether every line has a time (and there is one)."""
        return bool(self.lines) and all(ln.time is not None for ln in self.lines)

    @property
    def timed_count(self) -> int:
        """How many lines have a time."""
        return sum(ln.time is not None for ln in self.lines)

    def index_at(self, t: float) -> int:
        """Index of the timed line sounding at song time ``t`` (the last one started), -1 before the first."""
        idx = -1
        for i, ln in enumerate(self.lines):
            if ln.time is None:
                continue
            if ln.time <= t + 1e-9:
                idx = i
            else:
                break
        return idx

    def to_json(self) -> list[dict]:
        """``[{"time": seconds | null, "text": ...}]`` (``words`` too where there are word times)."""
        out: list[dict] = []
        for ln in self.lines:
            d: dict = {"time": None if ln.time is None else round(ln.time, 3), "text": ln.text}
            if ln.words:
                d["words"] = [{"time": round(w.time, 3), "text": w.text} for w in ln.words]
            out.append(d)
        return out


# -- reading ---------------------------------------------------------------------------------
def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    f = 0.0 if not frac else int(frac) / 10 ** len(frac)
    return (int(h) * 3600 if h else 0) + int(m) * 60 + int(s) + f


def _offset_s(meta: dict[str, str]) -> float:
    """The ``offset`` tag in seconds (positive: lines come earlier); 0 when absent or unreadable."""
    raw = meta.get("offset", "").strip()
    try:
        ms = float(raw)
    except ValueError:
        return 0.0
    return ms / 1000.0 if math.isfinite(ms) else 0.0


def _words(text: str, line_time: float, shift: float) -> tuple[str, tuple[Word, ...]]:
    """The text without word tags, and the word times (``shift`` subtracted).

    A word keeps the spaces after it (``"dark"`` ``"ness "`` is one word
    sung in two parts), so the writer gives the same line back.
    """
    tags = list(_WORD_TAG.finditer(text))
    if not tags:
        return text.strip(), ()
    words = []
    if text[: tags[0].start()].strip():  # text before the first word tag starts with the line
        words.append(Word(line_time, text[: tags[0].start()].lstrip()))
    for k, m in enumerate(tags):
        end = tags[k + 1].start() if k + 1 < len(tags) else len(text)
        word = text[m.end() : end]
        if word.strip():
            words.append(Word(max(0.0, _seconds(*m.groups()) - shift), word.rstrip() if k + 1 == len(tags) else word))
    plain = " ".join(_WORD_TAG.sub("", text).split())
    return plain, tuple(words)


def parse_lrc(text: str) -> Lyrics:
    """Parse LRC text (see the module docstring); untimed lines are skipped when any line is timed.

    A text with no timed line gives its non-blank, non-tag lines untimed.
    """
    text = text.removeprefix("\ufeff")
    meta: dict[str, str] = {}
    timed: list[tuple[list[float], str]] = []
    plain: list[str] = []
    for raw in text.splitlines():
        tags = []
        pos = 0
        while m := _LINE_TAG.match(raw, pos):
            tags.append(_seconds(*m.groups()))
            pos = m.end()
        if tags:
            timed.append((tags, raw[pos:]))
            continue
        mm = _META.match(raw)
        if mm:
            meta[mm.group(1).strip().lower()] = mm.group(2).strip()
        elif raw.strip():
            plain.append(" ".join(_WORD_TAG.sub("", raw).split()))
    if not timed:
        return Lyrics(tuple(LyricLine(None, t) for t in plain if t), meta)
    shift = _offset_s(meta)
    lines = []
    for times, rest in timed:
        for t in times:
            body, words = _words(rest, max(0.0, t - shift), shift)
            lines.append(LyricLine(max(0.0, t - shift), body, words if len(times) == 1 else ()))
    lines.sort(key=lambda ln: ln.time)  # type: ignore[arg-type, return-value]
    return Lyrics(tuple(lines), meta)


def decode_text(data: bytes, what: str) -> str:
    """Lyrics bytes to text: UTF-8 (BOM dropped), UTF-16 with a BOM, cp1252, latin-1.

    Raises:
        BadInput: Binary data (NUL bytes, control characters): ``what: not a lyrics file (binary data)``.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise BadInput(what, "not a lyrics file (broken UTF-16 text)") from None
    head = data[:4096]
    controls = sum(b < 32 and b not in (9, 10, 12, 13) for b in head)
    if b"\0" in head or controls > max(2, len(head) // 100):
        raise BadInput(what, "not a lyrics file (binary data)")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_lyrics_file(path: str | Path, timed_only: bool | None = None) -> Lyrics:
    """Read an ``.lrc`` (or a plain text file: untimed lyrics).

    Args:
        path: The file.
        timed_only: Refuse a file with no timed line (default: for ``.lrc`` files).

    Raises:
        BadInput: One line naming the file: not a regular file, binary, too large,
            no lyrics in it, or (``timed_only``) no timed line.
    """
    from stemtui.core.library.safeio import check_input_file

    p = check_input_file(path)
    what = str(p)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise BadInput(what, f"not a lyrics file ({size // 1024} kB; lyrics are a few kB)")
        data = p.read_bytes()
    except OSError as exc:
        raise BadInput(what, f"unreadable: {exc.strerror or exc}") from None
    lyrics = parse_lrc(decode_text(data, what))
    if timed_only is None:
        timed_only = p.suffix.lower() == ".lrc"
    if not lyrics.lines:
        raise BadInput(what, "no lyrics in it")
    if timed_only and not lyrics.timed:
        raise BadInput(what, "not an LRC file (no [mm:ss.xx] time tags)")
    return lyrics


# -- writing ---------------------------------------------------------------------------------
def lrc_time(t: float, bracket: str = "[]") -> str:
    """``[mm:ss.xx]`` (centiseconds; minutes may pass 99)."""
    cs = max(0, round(t * 100))
    m, rest = divmod(cs, 6000)
    return f"{bracket[0]}{m:02d}:{rest // 100:02d}.{rest % 100:02d}{bracket[1]}"


def write_lrc(lyrics: Lyrics, meta: dict[str, str] | None = None) -> str:
    """LRC text of the timed lines (untimed ones as plain lines after them), with ``meta`` tags first.

    Word times are written as enhanced ``<mm:ss.xx>`` tags. No offset tag: times are as shown.
    """
    out = [f"[{k}:{v}]" for k, v in (meta or {}).items() if k != "offset"]
    for ln in lyrics.lines:
        if ln.time is None:
            out.append(ln.text)
        elif ln.words:
            out.append(lrc_time(ln.time) + "".join(lrc_time(w.time, "<>") + w.text for w in ln.words))
        else:
            out.append(lrc_time(ln.time) + ln.text)
    return "\n".join(out) + "\n"


def stamped(lyrics: Lyrics, index: int, t: float | None) -> Lyrics:
    """A copy with line ``index`` timed at ``t`` (``None``: untimed); its word times are dropped."""
    lines = list(lyrics.lines)
    lines[index] = replace(lines[index], time=t, words=())
    return replace(lyrics, lines=tuple(lines))
