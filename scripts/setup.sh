#!/usr/bin/env bash
# Set up a development environment for stemtui: system libraries, a virtual
# environment in .venv, torch, and the project itself (editable).
#
#   bash scripts/setup.sh          # what `make run` / `make bench` need
#   bash scripts/setup.sh --test   # plus what the test suite and linters need
#
# Idempotent and fast when everything is already in place (a few seconds):
# apt is only consulted when a package is missing, and pip only runs when
# pyproject.toml changed since the last successful install (see STAMP below).
#
# Environment knobs:
#   PYTHON=python3.12   interpreter used to create the venv (default python3)
#   STEMTUI_FORCE=1     reinstall the project even if the stamp matches
set -euo pipefail

usage() { echo "usage: $0 [--test]" >&2; }

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/.venv
VPY=$VENV/bin/python
STAMP=$VENV/.stemtui-stamp
PYTHON=${PYTHON:-python3}
# The CPU build of torch we install when there is no NVIDIA GPU (see step 3).
TORCH_CPU_VERSION=2.13.0

T0=$SECONDS
step()  { printf '[setup] %s\n' "$*"; }
warn()  { printf '[setup] WARNING: %s\n' "$*" >&2; }
die()   { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a noisy command with its output in a log; show the log only on failure.
LOG=$(mktemp "${TMPDIR:-/tmp}/stemtui-setup.XXXXXX")
trap 'rm -f "$LOG"' EXIT
quiet() {
    if ! "$@" >"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        return 1
    fi
}

# --- 1. system packages ------------------------------------------------------
# libportaudio2: sounddevice dlopens it at import time ("PortAudio library not
# found" otherwise).  For the tests: a PulseAudio daemon with a null sink we can
# record from (pulseaudio, pulseaudio-utils for pactl/parec), the ALSA "pulse"
# PCM through which PortAudio reaches it (libasound2-plugins), and tmux for
# driving the TUI.
APT_PKGS=(libportaudio2)
if [[ $WITH_TEST == 1 ]]; then
    APT_PKGS+=(pulseaudio pulseaudio-utils libasound2-plugins tmux)
fi
# Debian's system python ships `venv` without ensurepip unless python3-venv is
# installed; pyenv/python.org builds have it built in.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 && [[ ! -x $VPY ]]; then
    APT_PKGS+=(python3-venv)
fi

pkg_installed() {
    # `dpkg -s` alone succeeds for removed-but-not-purged packages too, so look
    # at the status line.
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    warn "not a Debian-like system; make sure these are installed: ${APT_PKGS[*]}"
else
    missing=()
    for p in "${APT_PKGS[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [[ ${#missing[@]} == 0 ]]; then
        step "apt: all present (${APT_PKGS[*]})"
    else
        SUDO=()
        can_install=1
        if [[ $(id -u) != 0 ]]; then
            # -n: never prompt (CI has no stdin); fail instead.
            if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
                SUDO=(sudo -n)
            else
                can_install=0
            fi
        fi
        if [[ $can_install == 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
            warn "cannot install system packages (not root, no passwordless sudo or no apt-get); please install: ${missing[*]}"
        else
            step "apt: installing ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            if ! quiet "${SUDO[@]}" apt-get update -q \
                || ! quiet "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
                warn "apt-get failed; please install: ${missing[*]}"
            fi
        fi
    fi
fi

# --- 2. virtual environment --------------------------------------------------
if [[ -x $VPY ]] && "$VPY" -c 'import sys, pip' >/dev/null 2>&1; then
    step "venv: reusing .venv ($("$VPY" -c 'import platform; print(platform.python_version())'))"
else
    if [[ -e $VENV ]]; then
        # Typically its base interpreter was removed or upgraded.  Refuse to
        # touch a .venv we can't write (another user's): that is not "broken".
        [[ -w $VENV && -O $VENV ]] \
            || die ".venv exists but is not usable by $(id -un) and not ours to recreate"
        step "venv: .venv is broken (its python does not run), recreating"
        rm -rf "$VENV"
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=...)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$PYTHON is older than 3.10"
    step "venv: creating .venv with $("$PYTHON" --version 2>&1)"
    quiet "$PYTHON" -m venv "$VENV" || die "could not create .venv"
fi
PIP=("$VPY" -m pip --disable-pip-version-check --no-input)

# --- 3. torch ----------------------------------------------------------------
# demucs depends on a bare `torch`.  Left to itself, pip resolves that to the
# newest torch *plus ~20 nvidia-* CUDA wheels*: several GB, useless without an
# NVIDIA GPU.  So torch is installed explicitly *before* the project: with no
# GPU we pin the CPU build (which pip finds as a local wheel on our machines,
# ~17 s), and then `pip install -e .` sees torch satisfied and pulls nothing
# more.  With a working nvidia-smi we let pip pick the default (CUDA) build.
# An importable torch is never touched, whichever build it is.
# (find_spec, not `import torch`: importing torch takes seconds.)
if "$VPY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2>/dev/null; then
    step "torch: present ($("$VPY" -c 'from importlib.metadata import version; print(version("torch"))'))"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    step "torch: NVIDIA GPU found, installing the default (CUDA) build"
    quiet "${PIP[@]}" install -q torch || die "pip install torch failed"
else
    step "torch: no NVIDIA GPU, installing CPU build torch==$TORCH_CPU_VERSION"
    quiet "${PIP[@]}" install -q "torch==$TORCH_CPU_VERSION" \
        || die "pip install torch==$TORCH_CPU_VERSION failed"
fi

# --- 4. the project ----------------------------------------------------------
# The stamp records the sha256 of pyproject.toml and which extras were
# installed; pip runs again only when either no longer matches.  An editable
# install picks up new modules by itself, so source changes need no reinstall.
# "test" is a superset of "base", so a --test install also satisfies plain runs.
want=base; [[ $WITH_TEST == 1 ]] && want=test
sha=$(sha256sum pyproject.toml | cut -d' ' -f1)
have_sha=; have_kind=
if [[ -f $STAMP ]]; then
    read -r have_sha have_kind <"$STAMP" || true
fi
if [[ ${STEMTUI_FORCE:-0} != 1 && $have_sha == "$sha" && -x $VENV/bin/stemtui \
      && ( $have_kind == test || $want == base ) ]]; then
    step "stemtui: up to date (pyproject.toml unchanged, extras: $have_kind)"
else
    # Once the test extras are in, keep them current on every reinstall.
    [[ $have_kind == test ]] && want=test
    target=.; [[ $want == test ]] && target='.[test]'
    step "stemtui: pip install -e '$target'"
    quiet "${PIP[@]}" install -q -e "$target" || die "pip install -e '$target' failed"
    printf '%s %s\n' "$sha" "$want" >"$STAMP"
fi

step "done in $((SECONDS - T0)) s"
