"""``stemtui lyrics`` through the real CLI on the demo song: show, --json, import, fetch.

Fetch runs the real client against a real local HTTP server (``http.server``
in a thread, on 127.0.0.1) that speaks LRCLIB's API with canned answers;
the server down (a closed port) is one clear line, exit 1. Bad files are
one line, exit 2, and nothing stored.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from stemtui.core.library.catalog import demo_id
from stemtui.core.lyrics.lyricstore import LyricsStore
from tests.functional.test_bad_inputs import assert_one_line, run
from tests.functional.test_ui_support import write_stems

LRC = "\ufeff[ar:stemtui]\n[ti:Night Drive]\n[offset:+250]\n[00:01.25]first line\n[00:05.25][00:20.25]chorus\n"
DEMO_TITLE, DEMO_ARTIST = "Demo: Night Drive", "stemtui"


@pytest.fixture
def cache(demo_store) -> Path:
    return demo_store.root


@pytest.fixture
def lyrics_store(settings) -> LyricsStore:
    return settings.lyrics_store()


def test_show_import_and_json(cache, tmp_path, lyrics_store):
    r = run(["lyrics", "demo"], cache)
    assert r.returncode == 0 and "no lyrics yet" in r.stdout, r.stderr
    assert json.loads(run(["lyrics", "demo", "--json"], cache).stdout) == []
    f = tmp_path / "night.lrc"
    f.write_text(LRC)
    r = run(["lyrics", "demo", "import", str(f)], cache)
    assert r.returncode == 0 and "3 timed lines" in r.stdout, r.stderr
    r = run(["lyrics", "demo"], cache)
    assert r.stdout.splitlines() == ["0:01.00  first line", "0:05.00  chorus", "0:20.00  chorus"], r.stdout
    data = json.loads(run(["lyrics", "demo", "--json"], cache).stdout)
    assert data == [
        {"time": 1.0, "text": "first line"},
        {"time": 5.0, "text": "chorus"},
        {"time": 20.0, "text": "chorus"},
    ]
    r = run(["lyrics", "demo", "--lrc"], cache)
    assert "[00:05.00]chorus" in r.stdout.splitlines()
    assert lyrics_store.path(demo_id()).is_file()  # with the practice data, not in the cache
    assert not list(cache.rglob("*.lrc")) and not list(cache.rglob("lyrics*"))


def test_a_plain_text_file_imports_untimed(cache, tmp_path):
    f = tmp_path / "words.txt"
    f.write_text("first line\nsecond line\n")
    r = run(["lyrics", "demo", "import", str(f)], cache)
    assert r.returncode == 0 and "2 untimed lines" in r.stdout and "y in the player" in r.stdout
    assert run(["lyrics", "demo"], cache).stdout.splitlines() == ["-:--.--  first line", "-:--.--  second line"]
    assert json.loads(run(["lyrics", "demo", "--json"], cache).stdout)[0] == {"time": None, "text": "first line"}


@pytest.mark.parametrize("kind", ["wav-renamed", "text-without-times", "missing"])
def test_a_file_that_is_not_lyrics_is_one_line_exit_2_and_nothing_stored(cache, tmp_path, lyrics_store, kind):
    good = tmp_path / "good.lrc"
    good.write_text(LRC)
    assert run(["lyrics", "demo", "import", str(good)], cache).returncode == 0
    before = lyrics_store.path(demo_id()).read_bytes()
    bad = tmp_path / "bad.lrc"
    if kind == "wav-renamed":
        import numpy as np
        import soundfile as sf

        sf.write(str(tmp_path / "x.wav"), np.zeros((4410, 2), np.float32), 44100)
        (tmp_path / "x.wav").rename(bad)
    elif kind == "text-without-times":
        bad.write_text("these are words\nbut no times\n")
    r = run(["lyrics", "demo", "import", str(bad)], cache)
    assert_one_line(r, 2, str(bad))
    assert lyrics_store.path(demo_id()).read_bytes() == before
    assert not list(lyrics_store.path(demo_id()).parent.glob(".*"))


def test_an_lrc_beside_the_stems_is_picked_up_on_import(cache, tmp_path):
    folder = write_stems(tmp_path / "My Song", seconds=2.0)
    (tmp_path / "My Song.lrc").write_text("[00:00.50]hello\n[00:01.50]again\n")
    r = run(["import", str(folder)], cache)
    assert r.returncode == 0, r.stderr
    assert "2 timed lines from My Song.lrc" in r.stderr
    song_id = r.stdout.split()[1]
    r = run(["lyrics", song_id], cache)
    assert r.stdout.splitlines() == ["0:00.50  hello", "0:01.50  again"], (r.stdout, r.stderr)
    # In the folder too (another song: other stems).
    other = write_stems(tmp_path / "other", names=("vocals", "bass"), seconds=2.0)
    (other / "lyrics.lrc").write_text("[00:01.00]in the folder\n")
    r = run(["import", str(other)], cache)
    assert "1 timed lines from lyrics.lrc" in r.stderr
    assert run(["lyrics", r.stdout.split()[1], "--json"], cache).stdout.count("in the folder") == 1


# -- fetch against a local LRCLIB ------------------------------------------------------------------
class FakeLrclib:
    """A local HTTP server with LRCLIB's ``/api/get`` and ``/api/search``, answering canned records."""

    def __init__(self, get: dict | None, search: list[dict]) -> None:
        self.get, self.search = get, search
        self.requests: list[tuple[str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append((url.path, query))
                if url.path == "/api/get" and fake.get is not None:
                    self._send(200, fake.get)
                elif url.path == "/api/get":
                    self._send(404, {"code": 404, "name": "TrackNotFound", "message": "Failed to find specified track"})
                elif url.path == "/api/search":
                    self._send(200, fake.search)
                else:
                    self._send(404, {"code": 404})

            def _send(self, code: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLrclib:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def record(rid: int, duration: float, synced: str | None, plain: str | None, instrumental: bool = False) -> dict:
    return {
        "id": rid,
        "trackName": DEMO_TITLE,
        "artistName": DEMO_ARTIST,
        "albumName": "Demos",
        "duration": duration,
        "instrumental": instrumental,
        "plainLyrics": plain,
        "syncedLyrics": synced,
    }


def fetch(cache, monkeypatch, url: str):
    monkeypatch.setenv("STEMTUI_LRCLIB_URL", url)
    return run(["lyrics", "demo", "fetch"], cache)


def test_fetch_asks_get_by_artist_title_and_duration_and_keeps_synced_lyrics(cache, monkeypatch):
    synced = "[00:02.00]night drive\n[00:04.50]city lights\n"
    with FakeLrclib(record(42, 31.0, synced, "night drive\ncity lights"), []) as srv:
        r = fetch(cache, monkeypatch, srv.url)
    assert r.returncode == 0 and "2 timed lines" in r.stdout and "(id 42)" in r.stdout, (r.stdout, r.stderr)
    path, query = srv.requests[0]
    assert path == "/api/get"
    assert query["artist_name"] == DEMO_ARTIST and query["track_name"] == DEMO_TITLE
    assert abs(int(query["duration"]) - 31) <= 1
    data = json.loads(run(["lyrics", "demo", "--json"], cache).stdout)
    assert data == [{"time": 2.0, "text": "night drive"}, {"time": 4.5, "text": "city lights"}]


def test_fetch_falls_back_to_search_and_picks_the_closest_duration(cache, monkeypatch):
    hits = [
        record(1, 250.0, "[00:01.00]a live version\n", None),  # far off: another recording
        record(2, 30.0, None, "plain one\nplain two"),  # close, but plain
        record(3, 0.0, None, None, instrumental=True),
    ]
    with FakeLrclib(None, hits) as srv:
        r = fetch(cache, monkeypatch, srv.url)
    assert r.returncode == 0 and "2 untimed lines" in r.stdout and "(id 2)" in r.stdout, (r.stdout, r.stderr)
    assert [p for p, _ in srv.requests] == ["/api/get", "/api/search"]
    assert srv.requests[1][1]["track_name"] == DEMO_TITLE


def test_fetch_not_found_is_one_line_exit_1(cache, monkeypatch, lyrics_store):
    with FakeLrclib(None, [record(9, 31.0, None, None, instrumental=True)]) as srv:
        r = fetch(cache, monkeypatch, srv.url)
    assert_one_line(r, 1, "lyrics lookup", "has no lyrics for Demo: Night Drive by stemtui")
    assert not lyrics_store.path(demo_id()).exists()


def test_fetch_with_the_server_down_is_one_clear_line_exit_1(cache, monkeypatch, lyrics_store):
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = fetch(cache, monkeypatch, f"http://127.0.0.1:{port}")
    line = assert_one_line(r, 1, f"lyrics lookup: 127.0.0.1:{port} is not reachable (")
    assert "refused" in line
    assert not lyrics_store.path(demo_id()).exists()


def test_a_server_that_never_answers_or_fails_is_one_line_too():
    from stemtui.core.lyrics.lrclibclient import LookupUnreachable, LyricsNotFound, fetch_lyrics

    with socket.socket() as s:  # listens, never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(LookupUnreachable, match=r"is not reachable \(timed out\)"):
            fetch_lyrics(url, DEMO_TITLE, DEMO_ARTIST, 31.0, timeout=0.5)

    with FakeLrclib(None, []) as srv:
        srv.search = "not a list"  # a 200 with JSON of the wrong shape: not found, no crash
        with pytest.raises(LyricsNotFound, match="has no lyrics"):
            fetch_lyrics(srv.url, DEMO_TITLE, DEMO_ARTIST, 31.0, timeout=5)


def test_an_lrc_beside_the_audio_is_picked_up_on_separate(tmp_path, settings):
    import soundfile as sf

    from tests.functional.test_separate_cli import run as run_separate
    from tests.tiny_models import test_audio

    song = tmp_path / "Night Song.wav"
    sf.write(song, test_audio(4.0), 44100)
    (tmp_path / "Night Song.lrc").write_text("[ar:x]\n[00:01.00]sung at one\n[00:02.50]and later\n")
    r = run_separate(["separate", str(song), "-n", "demucs_unittest", "--json"], tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.splitlines()[-1])
    assert "2 timed lines from Night Song.lrc" in r.stderr
    saved, problem = settings.lyrics_store().load(done["id"])
    assert problem is None and saved is not None
    assert [(ln.time, ln.text) for ln in saved.lines] == [(1.0, "sung at one"), (2.5, "and later")]
