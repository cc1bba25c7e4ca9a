"""Every setting in one place: the CLI's flags, the ``STEMTUI_*`` environment, platformdirs.

:class:`Settings` is built once, by the CLI (:meth:`Settings.build` from its
flags) or by anything else that starts stemtui (:meth:`Settings.from_env`),
and handed on explicitly: to the commands, the app, its screens, the
:class:`~stemtui.core.library.store.Store` (``cache_dir``) and the
:class:`~stemtui.core.library.practice.PracticeStore` and the
:class:`~stemtui.core.takes.takestore.TakeStore` (``data_dir``).

Each value comes from the first of: a flag, the environment, the default
(platformdirs' user dirs for the folders). This module is the only one
that reads ``STEMTUI_*`` variables, and nothing writes ``os.environ``: a
child process that must see the same settings gets :meth:`Settings.to_env`
in its environment (or flags).

==========================  ==================  =====================================
Environment                 Flag                Default
==========================  ==================  =====================================
``STEMTUI_CACHE_DIR``       ``--cache-dir``     platformdirs' user cache dir
``STEMTUI_DATA_DIR``        (none)              platformdirs' user data dir
``STEMTUI_LOG_DIR``         (none)              platformdirs' user log dir
``STEMTUI_DEVICE``          ``--device``        the default output device
``STEMTUI_MODEL``           ``-n/--model``      ``htdemucs``
``STEMTUI_MODEL_REPO``      ``--model-repo``    none (the hub cache)
``STEMTUI_BENCH_FIRST_PAINT``  (none)           none (the startup benchmark's stamp)
``STEMTUI_LRCLIB_URL``      (none)              ``https://lrclib.net`` (``lyrics SONG fetch``)
==========================  ==================  =====================================

The app-level flags (``--device``, ``-n``, ``--model-repo``) are the ones
before a command; ``stemtui play --device`` and ``stemtui separate --model``
are their commands' own and are not settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stemtui.core.library.practice import PracticeStore
    from stemtui.core.library.store import Store
    from stemtui.core.lyrics.lyricstore import LyricsStore
    from stemtui.core.takes.takestore import TakeStore

APP_NAME = "stemtui"
#: Env: the song store (the CLI's ``--cache-dir``).
CACHE_ENV = "STEMTUI_CACHE_DIR"
#: Env: where saved practice state lives (never the cache).
DATA_ENV = "STEMTUI_DATA_DIR"
#: Env: where the app's log file goes.
LOG_ENV = "STEMTUI_LOG_DIR"
#: Env: the app's output device (name, index, or ``null`` for none).
DEVICE_ENV = "STEMTUI_DEVICE"
#: Env: the demucs model separations started in the app use.
MODEL_ENV = "STEMTUI_MODEL"
#: Env: a folder with model files, for offline use.
MODEL_REPO_ENV = "STEMTUI_MODEL_REPO"
#: Env: a file the app writes its first-paint time to, then exits (the startup benchmark).
BENCH_ENV = "STEMTUI_BENCH_FIRST_PAINT"
#: Env: the LRCLIB server ``stemtui lyrics SONG fetch`` asks.
LRCLIB_ENV = "STEMTUI_LRCLIB_URL"
#: The LRCLIB server when the environment names none.
DEFAULT_LRCLIB_URL = "https://lrclib.net"
#: The model when neither a flag nor the environment names one.
DEFAULT_MODEL = "htdemucs"


def _user_dir(kind: str) -> Path:
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))


def _pick(flag: Any, env: Mapping[str, str], name: str) -> str | None:
    """The flag if given, else the variable if set and not blank, else ``None``."""
    if flag is not None and str(flag).strip():
        return str(flag).strip()
    value = env.get(name, "").strip()
    return value or None


def _folder(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class Settings:
    """What a stemtui process is configured with (immutable; build it once).

    Attributes:
        cache_dir: The song store's root.
        data_dir: The root of saved practice state.
        log_dir: Where the app writes ``stemtui.log``.
        device: The app's output device, ``None`` for the default one.
        model: The model separations started in the app use.
        model_repo: A folder with model files, or ``None``.
        bench_first_paint: Where the app writes its first-paint time (then exits), or ``None``.
        lrclib_url: The LRCLIB server lyrics are looked up on.
        warm_workers: The app starts a warm song-analysis worker while the
            library shows, when a stored song has no song map yet (tests turn it off).
    """

    cache_dir: Path
    data_dir: Path
    log_dir: Path
    device: str | None = None
    model: str = DEFAULT_MODEL
    model_repo: Path | None = None
    bench_first_paint: Path | None = None
    lrclib_url: str = DEFAULT_LRCLIB_URL
    warm_workers: bool = True

    @classmethod
    def build(
        cls,
        *,
        cache_dir: str | Path | None = None,
        device: str | None = None,
        model: str | None = None,
        model_repo: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from flags (``None``: not given), then ``env`` (default: ``os.environ``), then defaults."""
        env = os.environ if env is None else env
        return cls(
            cache_dir=_folder(_pick(cache_dir, env, CACHE_ENV)) or _user_dir("cache"),
            data_dir=_folder(_pick(None, env, DATA_ENV)) or _user_dir("data"),
            log_dir=_folder(_pick(None, env, LOG_ENV)) or _user_dir("log"),
            device=_pick(device, env, DEVICE_ENV),
            model=_pick(model, env, MODEL_ENV) or DEFAULT_MODEL,
            model_repo=_folder(_pick(model_repo, env, MODEL_REPO_ENV)),
            bench_first_paint=_folder(_pick(None, env, BENCH_ENV)),
            lrclib_url=_pick(None, env, LRCLIB_ENV) or DEFAULT_LRCLIB_URL,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment and the defaults alone (no flags)."""
        return cls.build(env=env)

    @classmethod
    def from_args(cls, args: Any, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from the CLI's parsed arguments.

        Reads ``cache_dir``, ``app_device``, ``app_model`` and ``app_model_repo``.
        """
        return cls.build(
            cache_dir=getattr(args, "cache_dir", None),
            device=getattr(args, "app_device", None),
            model=getattr(args, "app_model", None),
            model_repo=getattr(args, "app_model_repo", None),
            env=env,
        )

    @classmethod
    def under(cls, folder: str | Path, **changes: Any) -> Settings:
        """Everything under one folder: ``cache/``, ``data/`` and ``log/`` (tests, benchmarks, screenshots).

        ``changes`` set other values (or one of the folders elsewhere).
        """
        root = Path(folder).expanduser()
        values: dict[str, Any] = {"cache_dir": root / "cache", "data_dir": root / "data", "log_dir": root / "log"}
        return cls(**{**values, **changes})

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed."""
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The ``STEMTUI_*`` variables that make a child process build these same settings."""
        env = {
            CACHE_ENV: str(self.cache_dir),
            DATA_ENV: str(self.data_dir),
            LOG_ENV: str(self.log_dir),
            MODEL_ENV: self.model,
        }
        if self.device is not None:
            env[DEVICE_ENV] = self.device
        if self.model_repo is not None:
            env[MODEL_REPO_ENV] = str(self.model_repo)
        if self.bench_first_paint is not None:
            env[BENCH_ENV] = str(self.bench_first_paint)
        if self.lrclib_url != DEFAULT_LRCLIB_URL:
            env[LRCLIB_ENV] = self.lrclib_url
        return env

    def store(self) -> Store:
        """The song store at :attr:`cache_dir`."""
        from stemtui.core.library.store import Store

        return Store(self.cache_dir)

    def practice_store(self) -> PracticeStore:
        """The saved practice states under :attr:`data_dir`."""
        from stemtui.core.library.practice import PracticeStore

        return PracticeStore(self.data_dir)

    def takes_store(self) -> TakeStore:
        """The takes (the user's recordings) under :attr:`data_dir`."""
        from stemtui.core.takes.takestore import TakeStore

        return TakeStore(self.data_dir)

    def lyrics_store(self) -> LyricsStore:
        """The songs' lyrics under :attr:`data_dir`."""
        from stemtui.core.lyrics.lyricstore import LyricsStore

        return LyricsStore(self.data_dir)
