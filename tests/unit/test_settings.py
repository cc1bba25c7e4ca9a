"""Settings: a flag beats the environment, which beats platformdirs' default; only one module reads them.

The precedence tests build real :class:`Settings` from explicit environments
(and from the process environment through monkeypatch); the tree test parses
every module under ``stemtui/`` and fails on any ``STEMTUI_*`` read outside
``stemtui/settings.py`` and on any write to ``os.environ`` anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

import platformdirs
import pytest

from stemtui.settings import (
    CACHE_ENV,
    DATA_ENV,
    DEFAULT_MODEL,
    DEVICE_ENV,
    LOG_ENV,
    MODEL_ENV,
    MODEL_REPO_ENV,
    Settings,
)

PACKAGE = Path(__file__).resolve().parents[2] / "stemtui"
SETTINGS_MODULE = PACKAGE / "settings.py"


def user_dir(kind: str) -> Path:
    return Path(getattr(platformdirs, f"user_{kind}_dir")("stemtui", appauthor=False))


# -- precedence ----------------------------------------------------------------------------
def test_without_flags_or_environment_the_platformdirs_defaults_apply():
    s = Settings.build(env={})
    assert s.cache_dir == user_dir("cache")
    assert s.data_dir == user_dir("data")
    assert s.log_dir == user_dir("log")
    assert (s.device, s.model, s.model_repo, s.bench_first_paint) == (None, DEFAULT_MODEL, None, None)


def test_the_environment_beats_the_defaults(tmp_path):
    env = {
        CACHE_ENV: str(tmp_path / "c"),
        DATA_ENV: str(tmp_path / "d"),
        LOG_ENV: str(tmp_path / "l"),
        DEVICE_ENV: "null",
        MODEL_ENV: "htdemucs_ft",
        MODEL_REPO_ENV: str(tmp_path / "models"),
    }
    s = Settings.build(env=env)
    assert (s.cache_dir, s.data_dir, s.log_dir) == (tmp_path / "c", tmp_path / "d", tmp_path / "l")
    assert (s.device, s.model, s.model_repo) == ("null", "htdemucs_ft", tmp_path / "models")


def test_a_flag_beats_the_environment(tmp_path):
    env = {
        CACHE_ENV: str(tmp_path / "env-cache"),
        DEVICE_ENV: "null",
        MODEL_ENV: "mdx_extra",
        MODEL_REPO_ENV: str(tmp_path / "env-models"),
    }
    s = Settings.build(
        cache_dir=tmp_path / "flag-cache",
        device="pulse",
        model="htdemucs_6s",
        model_repo=str(tmp_path / "flag-models"),
        env=env,
    )
    assert s.cache_dir == tmp_path / "flag-cache"
    assert (s.device, s.model, s.model_repo) == ("pulse", "htdemucs_6s", tmp_path / "flag-models")


def test_blank_values_count_as_not_given(tmp_path):
    s = Settings.build(cache_dir="", device="  ", env={CACHE_ENV: str(tmp_path), DEVICE_ENV: "", MODEL_ENV: " "})
    assert s.cache_dir == tmp_path and s.device is None and s.model == DEFAULT_MODEL


def test_the_cli_flags_reach_the_settings_and_the_process_environment_is_read(tmp_path, monkeypatch):
    from stemtui.cli import build_parser

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env-cache"))
    monkeypatch.setenv(DEVICE_ENV, "null")
    monkeypatch.setenv(MODEL_ENV, "mdx_extra")
    args = build_parser().parse_args(["--device", "pulse", "--cache-dir", str(tmp_path / "flag-cache"), "list"])
    s = Settings.from_args(args)
    assert s.cache_dir == tmp_path / "flag-cache" and s.device == "pulse"
    assert s.model == "mdx_extra"  # no -n flag: the environment's
    assert Settings.from_env().cache_dir == tmp_path / "env-cache"


def test_to_env_gives_a_child_the_same_settings(tmp_path):
    s = Settings.under(
        tmp_path, device="null", model="htdemucs_ft", model_repo=tmp_path / "m", bench_first_paint=tmp_path / "stamp"
    )
    assert Settings.from_env(s.to_env()) == s


def test_settings_are_frozen(tmp_path):
    s = Settings.under(tmp_path)
    with pytest.raises(AttributeError):
        s.cache_dir = tmp_path / "elsewhere"  # type: ignore[misc]
    assert s.replace(model="x").model == "x" and s.model == DEFAULT_MODEL


# -- only the settings module reads STEMTUI_*; nothing writes os.environ ------------------------
WRITERS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def _is_environ(node: ast.AST) -> bool:
    """``os.environ`` or a bare ``environ`` (``from os import environ``)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _is_os_call(node: ast.AST, *names: str) -> bool:
    f = node.func if isinstance(node, ast.Call) else None
    return (
        isinstance(f, ast.Attribute) and f.attr in names and isinstance(f.value, ast.Name) and f.value.id == "os"
    ) or (isinstance(f, ast.Name) and f.id in names)


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def violations(source: str, may_read: bool) -> list[str]:
    """What a module does wrong: writes to the environment, and (unless ``may_read``) STEMTUI_ reads.

    Any string constant that starts with ``STEMTUI_`` (docstrings aside) counts
    as a read: the variable names are the settings module's, others import them.
    """
    tree = ast.parse(source)
    found = []
    docs = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            if any(isinstance(t, ast.Subscript) and _is_environ(t.value) for t in targets):
                found.append(f"{line}: writes os.environ[...]")
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in WRITERS and _is_environ(f.value):
                found.append(f"{line}: os.environ.{f.attr}()")
            if _is_os_call(node, "putenv", "unsetenv"):
                found.append(f"{line}: os.putenv/unsetenv")
        if (
            not may_read
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("STEMTUI_")
            and id(node) not in docs
        ):
            found.append(f"{line}: {node.value!r} outside stemtui/settings.py")
    return found


@pytest.mark.parametrize(
    "source",
    [
        'import os\nx = os.environ.get("STEMTUI_CACHE_DIR")',
        'import os\nNAME = "STEMTUI_DEVICE"\nx = os.getenv(NAME)',
        'import os\nos.environ["HOME"] = "/tmp"',
        'import os\nos.environ.update(A="1")',
        'import os\nos.environ.setdefault("A", "1")',
        'import os\nos.putenv("A", "1")',
        'from os import environ\ndel environ["A"]',
    ],
)
def test_the_checker_catches_what_it_is_meant_to(source):
    assert violations(source, may_read=False)


def test_the_checker_lets_plain_environment_use_pass():
    ok = 'import os\n"""Docs may name STEMTUI_CACHE_DIR."""\nenv = dict(os.environ)\nhome = os.environ.get("HOME")\n'
    assert violations(ok, may_read=False) == []


def test_no_module_but_settings_reads_stemtui_variables_and_none_writes_the_environment():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert SETTINGS_MODULE in modules and len(modules) > 50
    bad = {}
    for path in modules:
        found = violations(path.read_text(encoding="utf-8"), may_read=path == SETTINGS_MODULE)
        if found:
            bad[str(path.relative_to(PACKAGE.parent))] = found
    assert bad == {}
