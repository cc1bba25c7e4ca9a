"""LRCLIB lookup: a song's lyrics by artist, title and duration, over plain HTTP (urllib).

:func:`fetch_lyrics` asks ``/api/get`` (the track's signature: artist, title,
album if known, duration in whole seconds), and on a miss ``/api/search``
(title and artist), keeping the hit whose duration is closest (within
:data:`DURATION_SLACK_S`), synced lyrics first. The base URL is
``Settings.lrclib_url`` (``STEMTUI_LRCLIB_URL``), so tests point it at a
local server that speaks the same API.

Failures are one line, exit 1: :class:`LookupUnreachable` (no network, the
server refuses or times out, answers 5xx or no JSON) and
:class:`LyricsNotFound`. No Textual here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from stemtui import __version__
from stemtui.core.errors import StemtuiError
from stemtui.core.lyrics.lrcformat import Lyrics, parse_lrc

#: A hit's duration may differ from the song's by this much (LRCLIB's own rule is ±2 s).
DURATION_SLACK_S = 2.0
#: Seconds to wait for an answer.
TIMEOUT_S = 10.0
USER_AGENT = f"stemtui/{__version__} (a terminal practice player)"


class LookupUnreachable(StemtuiError):
    """The lyrics server could not be asked (offline, refused, timed out, broken answer)."""

    exit_code = 1


class LyricsNotFound(StemtuiError):
    """The server knows no lyrics for the song."""

    exit_code = 1


@dataclass(frozen=True)
class Hit:
    """What LRCLIB answered: the record's id, its names and the lyrics (synced if it has them)."""

    id: int
    track: str
    artist: str
    duration: float
    lyrics: Lyrics
    synced: bool


def _host(base_url: str) -> str:
    return urllib.parse.urlsplit(base_url).netloc or base_url


def _get(base_url: str, path: str, params: dict[str, Any], timeout: float) -> Any:
    """GET ``base_url + path`` with ``params``; the parsed JSON, or ``None`` on a 404."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})
    url = f"{base_url.rstrip('/')}{path}?{query}"
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    host = _host(base_url)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise LookupUnreachable(f"lyrics lookup: {host} answered HTTP {exc.code} ({exc.reason})") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
        if isinstance(reason, TimeoutError):
            why = "timed out"
        raise LookupUnreachable(f"lyrics lookup: {host} is not reachable ({str(why).lower()})") from None
    except TimeoutError:
        raise LookupUnreachable(f"lyrics lookup: {host} is not reachable (timed out)") from None
    except (OSError, ValueError) as exc:
        raise LookupUnreachable(f"lyrics lookup: {host} is not reachable ({exc})") from None
    try:
        return json.loads(body)
    except ValueError:
        raise LookupUnreachable(f"lyrics lookup: {host} answered something that is not JSON") from None


def _hit(d: Any) -> Hit | None:
    """A record to a :class:`Hit` (``None``: instrumental, or no lyrics in it)."""
    if not isinstance(d, dict) or d.get("instrumental"):
        return None
    synced, plain = d.get("syncedLyrics"), d.get("plainLyrics")
    lyrics = parse_lrc(synced) if isinstance(synced, str) and synced.strip() else None
    is_synced = lyrics is not None and lyrics.timed
    if not is_synced:
        lyrics = parse_lrc(plain) if isinstance(plain, str) and plain.strip() else None
        if lyrics is not None and lyrics.timed:  # plain text never carries times; drop them if it does
            lyrics = Lyrics(tuple(type(ln)(None, ln.text) for ln in lyrics.lines))
    if lyrics is None or not lyrics.lines:
        return None
    dur = d.get("duration")
    return Hit(
        id=int(d.get("id") or 0),
        track=str(d.get("trackName") or ""),
        artist=str(d.get("artistName") or ""),
        duration=float(dur) if isinstance(dur, (int, float)) else 0.0,
        lyrics=lyrics,
        synced=is_synced,
    )


def fetch_lyrics(
    base_url: str,
    title: str,
    artist: str,
    duration: float,
    album: str = "",
    timeout: float = TIMEOUT_S,
) -> Hit:
    """Look a song's lyrics up on LRCLIB.

    Raises:
        LookupUnreachable: One line: ``lyrics lookup: lrclib.net is not reachable (...)``.
        LyricsNotFound: One line naming the song.
    """
    what = f"{title} by {artist}" if artist else title
    if artist:
        params = {"artist_name": artist, "track_name": title, "album_name": album, "duration": round(duration)}
        hit = _hit(_get(base_url, "/api/get", params, timeout))
        if hit is not None:
            return hit
    found = _get(base_url, "/api/search", {"track_name": title, "artist_name": artist}, timeout)
    hits = [h for h in (_hit(d) for d in found if isinstance(found, list)) if h is not None] if found else []
    near = [h for h in hits if abs(h.duration - duration) <= DURATION_SLACK_S]
    if near:
        return min(near, key=lambda h: (not h.synced, abs(h.duration - duration)))
    raise LyricsNotFound(f"lyrics lookup: {_host(base_url)} has no lyrics for {what} ({duration:.0f} s)")
