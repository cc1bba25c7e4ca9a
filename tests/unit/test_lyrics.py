"""LRC read as well as it can be, written and read back; the lyrics store; the lyrics lane's rows.

Every variant of the issue: offsets (earlier, as players read them), several
time tags on a line, metadata and untimed lines skipped, sorting, enhanced
word tags, a BOM, UTF-16, cp1252, binary data refused; a property test that
round-trips generated lyrics through the writer and the parser.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stemtui.core.errors import BadInput
from stemtui.core.lyrics.lrcformat import LyricLine, Lyrics, Word, parse_lrc, read_lyrics_file, stamped, write_lrc
from stemtui.core.lyrics.lyricstore import LyricsStore, sidecar_lrc
from stemtui.ui.lyrics_actions import sung_chars
from stemtui.ui.widgets.lyrics_lane import lane_rows


def times(lyrics: Lyrics) -> list[float | None]:
    return [ln.time for ln in lyrics.lines]


def texts(lyrics: Lyrics) -> list[str]:
    return [ln.text for ln in lyrics.lines]


# -- parsing -----------------------------------------------------------------------------------
def test_time_tags_in_every_common_form():
    lyr = parse_lrc("[00:01.5]a\n[00:02.25]b\n[00:03.125]c\n[00:04]d\n[00:05:50]e\n[1:00:06.00]f\n[75:00.00]g\n")
    assert times(lyr) == pytest.approx([1.5, 2.25, 3.125, 4.0, 5.5, 3606.0, 4500.0])
    assert texts(lyr) == list("abcdefg") and lyr.timed


def test_a_positive_offset_shifts_every_line_earlier_and_a_negative_one_later():
    assert times(parse_lrc("[offset:+250]\n[00:10.00]x\n[00:20.00]y\n")) == pytest.approx([9.75, 19.75])
    assert times(parse_lrc("[00:10.00]x\n[offset:-500]\n")) == pytest.approx([10.5])
    assert times(parse_lrc("[offset:+1000]\n[00:00.50]x\n")) == [0.0]  # never before the song
    assert times(parse_lrc("[offset:soon]\n[00:01.00]x\n")) == [1.0]  # unreadable: no shift


def test_a_line_with_several_tags_appears_at_each_time_and_lines_are_sorted():
    lyr = parse_lrc("[00:30.00]verse two\n[00:10.00][00:40.00]chorus\n[00:05.00]verse one\n")
    assert times(lyr) == [5.0, 10.0, 30.0, 40.0]
    assert texts(lyr) == ["verse one", "chorus", "verse two", "chorus"]


def test_metadata_and_untimed_lines_are_skipped_in_a_timed_file():
    lrc = "[ar:Someone]\n[ti:A Song]\n[al:An Album]\n[length: 03:20]\n[by:me]\nA title line\n[00:01.00]one\n\n"
    lyr = parse_lrc(lrc)
    assert texts(lyr) == ["one"]
    assert lyr.meta["ar"] == "Someone" and lyr.meta["ti"] == "A Song" and lyr.meta["length"] == "03:20"


def test_blank_timed_lines_are_kept_as_pauses():
    assert texts(parse_lrc("[00:01.00]sing\n[00:03.00]\n[00:05.00]again\n")) == ["sing", "", "again"]


def test_enhanced_word_tags_give_word_times_and_a_clean_text():
    lyr = parse_lrc("[offset:+100]\n[00:12.00]<00:12.00>Hello <00:12.60>dark<00:13.10>ness\n")
    (line,) = lyr.lines
    assert line.text == "Hello darkness"
    assert [w.text.strip() for w in line.words] == ["Hello", "dark", "ness"]
    assert [w.time for w in line.words] == pytest.approx([11.9, 12.5, 13.0])
    assert line.time == pytest.approx(11.9)


def test_a_text_without_time_tags_is_untimed_lyrics():
    lyr = parse_lrc("[ti:x]\nfirst line\n\n  second line  \n")
    assert texts(lyr) == ["first line", "second line"] and times(lyr) == [None, None] and not lyr.timed


def test_index_at_follows_the_song_time():
    lyr = parse_lrc("[00:01.00]a\n[00:03.00]b\n[00:05.00]c\n")
    assert [lyr.index_at(t) for t in (0.0, 0.999, 1.0, 2.9, 3.0, 99.0)] == [-1, -1, 0, 0, 1, 2]


def test_sung_chars_follow_the_word_times():
    lyr = parse_lrc("[00:01.00]<00:01.00>one <00:02.00>two <00:03.00>three\n")
    assert [sung_chars(lyr, 0, t) for t in (0.5, 1.0, 2.5, 3.0)] == [0, 3, 7, 13]


# -- files: encodings, binary, plain text -----------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("\ufeff[00:01.00]Größe\n".encode(), "Größe"),
        ("[00:01.00]Größe\n".encode("utf-16"), "Größe"),
        ("[00:01.00]café – “quoted”\n".encode("cp1252"), "café – “quoted”"),
        (b"[00:01.00]caf\xe9 \x81\n", "café \x81"),  # not cp1252 either: latin-1
    ],
    ids=["utf8-bom", "utf16-bom", "cp1252", "latin1"],
)
def test_a_bom_or_another_encoding_is_handled(tmp_path, data, text):
    f = tmp_path / "song.lrc"
    f.write_bytes(data)
    lyr = read_lyrics_file(f)
    assert texts(lyr) == [text] and times(lyr) == [1.0]


def test_binary_data_or_an_lrc_without_times_is_refused_in_one_line(tmp_path):
    wav = tmp_path / "song.lrc"
    wav.write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00" + bytes(2000))
    with pytest.raises(BadInput, match=r"song\.lrc: not a lyrics file \(binary data\)"):
        read_lyrics_file(wav)
    text = tmp_path / "words.lrc"
    text.write_text("just words\nno times\n")
    with pytest.raises(BadInput, match=r"no \[mm:ss\.xx\] time tags"):
        read_lyrics_file(text)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n[ti:nothing]\n")
    with pytest.raises(BadInput, match="no lyrics in it"):
        read_lyrics_file(empty)
    with pytest.raises(BadInput, match="no such file"):
        read_lyrics_file(tmp_path / "missing.lrc")


def test_a_plain_text_file_is_untimed_lyrics(tmp_path):
    f = tmp_path / "words.txt"
    f.write_text("line one\nline two\n")
    assert texts(read_lyrics_file(f)) == ["line one", "line two"] and not read_lyrics_file(f).timed


# -- writing and reading back ---------------------------------------------------------------------
_TEXT = st.text(
    st.characters(
        blacklist_characters="[]<>\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", blacklist_categories=("Cs", "Cc")
    ),
    max_size=40,
).map(lambda s: " ".join(s.split()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5999.99, allow_nan=False), _TEXT), min_size=1, max_size=30))
def test_written_lrc_parses_back_to_the_same_lines_within_10_ms(items):
    lines = tuple(LyricLine(t, text) for t, text in sorted(items, key=lambda it: it[0]))
    back = parse_lrc(write_lrc(Lyrics(lines), {"ar": "A", "ti": "T"}))
    assert len(back.lines) == len(lines)
    # Equal times may come back in either order only if the text is equal too: compare sorted pairs.
    for a, b in zip(
        sorted(lines, key=lambda ln: (round(ln.time * 100), ln.text)),
        sorted(back.lines, key=lambda ln: (round(ln.time * 100), ln.text)),
        strict=True,
    ):
        assert abs(a.time - b.time) <= 0.01 and a.text == b.text


def test_word_times_round_trip_and_untimed_lines_are_written_as_text():
    line = parse_lrc("[00:01.00]<00:01.00>one <00:01.50>tw<00:01.80>o\n").lines[0]
    assert line.words == (Word(1.0, "one "), Word(1.5, "tw"), Word(1.8, "o"))
    back = parse_lrc(write_lrc(Lyrics((line,))))
    assert back.lines[0] == line and line.text == "one two"
    lead = parse_lrc("[00:02.00]Oh <00:02.50>yeah\n").lines[0]
    assert (
        lead.words == (Word(2.0, "Oh "), Word(2.5, "yeah")) and parse_lrc(write_lrc(Lyrics((lead,)))).lines[0] == lead
    )
    assert write_lrc(Lyrics((LyricLine(None, "not yet"),))) == "not yet\n"
    assert stamped(Lyrics((line,)), 0, 2.0).lines[0] == LyricLine(2.0, "one two")


# -- the store ------------------------------------------------------------------------------------------
def test_the_store_round_trips_and_sets_a_damaged_file_aside(tmp_path):
    store = LyricsStore(tmp_path)
    lyr = Lyrics((LyricLine(1.5, "a", (Word(1.5, "a"),)), LyricLine(None, "b")))
    path = store.save("song1", lyr, "test.lrc")
    assert path == tmp_path / "lyrics" / "song1.json" and json.loads(path.read_text())["schema"] == 1
    back, problem = store.load("song1")
    assert problem is None and back is not None and back.lines == lyr.lines
    assert store.load("other") == (None, None)
    path.write_text('{"schema": 1, "lines": [{"time": -3, "text": "x"}]}')
    back, problem = store.load("song1")
    assert back is None and "unusable lines" in problem and (tmp_path / "lyrics" / "song1.json.bad").exists()
    path.write_text("{not json")
    assert store.load("song1")[0] is None
    path.write_text('{"schema": 99, "lines": []}')
    assert "schema 99" in store.load("song1")[1]
    assert not list((tmp_path / "lyrics").glob(".*.tmp"))
    with pytest.raises(ValueError):
        store.path("../escape")


def test_the_lrc_beside_a_source_or_in_a_stem_folder_is_found(tmp_path):
    (tmp_path / "song.mp3").write_bytes(b"x")
    assert sidecar_lrc(tmp_path / "song.mp3") is None
    (tmp_path / "song.lrc").write_text("[00:01.00]x\n")
    assert sidecar_lrc(tmp_path / "song.mp3") == tmp_path / "song.lrc"
    (tmp_path / "track.stem.mp4").write_bytes(b"x")
    (tmp_path / "track.lrc").write_text("[00:01.00]x\n")
    assert sidecar_lrc(tmp_path / "track.stem.mp4") == tmp_path / "track.lrc"
    folder = tmp_path / "stems"
    folder.mkdir()
    assert sidecar_lrc(folder) is None
    (folder / "whatever.lrc").write_text("[00:01.00]x\n")
    assert sidecar_lrc(folder) == folder / "whatever.lrc"


def test_adopt_keeps_lyrics_the_song_has_and_reports_a_bad_sidecar(tmp_path):
    store = LyricsStore(tmp_path / "data")
    (tmp_path / "a.flac").write_bytes(b"x")
    (tmp_path / "a.lrc").write_bytes(bytes(100))
    assert "not picked up" in store.adopt("song1", tmp_path / "a.flac") and store.load("song1") == (None, None)
    (tmp_path / "a.lrc").write_text("[00:01.00]x\n")
    assert "1 timed lines from a.lrc" in store.adopt("song1", tmp_path / "a.flac")
    (tmp_path / "a.lrc").write_text("[00:02.00]y\n")
    assert store.adopt("song1", tmp_path / "a.flac") is None  # it has lyrics: kept
    assert texts(store.load("song1")[0]) == ["x"]


# -- the lane's rows ------------------------------------------------------------------------------------------
def test_lane_rows_wrap_scroll_and_mark_what_is_left_out():
    assert lane_rows("", "now", "next", 40) == [("now", "current"), ("next", "next")]
    long = " ".join(f"w{i:02d}" for i in range(30))  # 119 characters
    rows = lane_rows("", long, "next", 40, most=3)
    assert len(rows) == 3 and all(k == "current" for _, k in rows) and all(len(r) <= 40 for r, _ in rows)
    assert " ".join(r for r, _ in rows).split() == long.split()  # three rows hold it whole
    early, late = lane_rows("", long, "next", 40, most=2, progress=0.0), lane_rows("", long, "", 40, 2, 0.99)
    assert early[-1][0].endswith("…") and late[0][0].startswith("…")
    assert "w00" in early[0][0] and "w29" in late[-1][0]
    rows = lane_rows("TAP 1/4", "short", "the next line is much longer than the lane is wide", 30, most=3)
    assert [k for _, k in rows] == ["header", "current", "next"] and rows[2][0].endswith("…")
