"""Tiny demucs models for tests, and the on-disk layouts they are loaded from.

Everything here is built with random (seeded) weights: no download, and
small enough that a few seconds of audio separate in well under a second.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

SOURCES = ["drums", "bass", "guitar", "vocals"]


def tiny_htdemucs(samplerate: int = 44100, sources: list[str] | None = None, seed: int = 0):
    """A small HTDemucs that still runs the cross-domain transformer.

    ``nfft=1024`` and ``depth=3`` leave 8 frequency rows for the transformer,
    so attention stays cheap; ``dconv_comp=2`` keeps the 4-channel residual
    branches non-empty.
    """
    import torch
    from demucs.htdemucs import HTDemucs

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HTDemucs(
            sources=list(sources or SOURCES),
            samplerate=samplerate,
            channels=4,
            depth=3,
            nfft=1024,
            dconv_comp=2,
            t_layers=1,
            t_heads=2,
            bottom_channels=8,
            segment=Fraction(1),
        )
    return model.eval()


def unittest_bag(seed: int = 1):
    """A bag of two ``demucs_unittest``-sized HDemucs with uneven weights."""
    import torch
    from demucs.apply import BagOfModels
    from demucs.hdemucs import HDemucs

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        models = [HDemucs(channels=4, sources=["drums", "bass", "other", "vocals"]) for _ in range(2)]
    return BagOfModels(models, weights=[[1.0, 0.5, 1.0, 2.0], [0.5, 1.0, 1.0, 1.0]]).eval()


def save_th(model, folder: Path, name: str) -> Path:
    """Save ``model`` the way demucs's local repos hold models (a pickle)."""
    import torch

    args, kwargs = model._init_args_kwargs
    path = Path(folder) / f"{name}.th"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    return path


def write_hf_cache(hub_dir: Path, name: str, model, repo_id: str) -> Path:
    """Lay ``model`` out as the HuggingFace hub cache holds demucs's exports.

    One ``SIG.safetensors`` with the class and arguments in its metadata, and
    ``NAME.yaml`` naming it, in ``models--NS--REPO/snapshots/REV`` with
    ``refs/main`` pointing there, which is what ``hf_hub_download(...,
    local_files_only=True)`` resolves.
    """
    from safetensors.torch import save_file

    from stemtui.core.separation.models import _encode

    rev = "0" * 40
    root = Path(hub_dir) / ("models--" + repo_id.replace("/", "--"))
    snap = root / "snapshots" / rev
    snap.mkdir(parents=True, exist_ok=True)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(rev)
    args, kwargs = model._init_args_kwargs
    sig = "deadbeef"
    meta = {
        "klass": f"{type(model).__module__}.{type(model).__name__}",
        "args": json.dumps(_encode(list(args))),
        "kwargs": json.dumps(_encode(dict(kwargs))),
    }
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(snap / f"{sig}.safetensors"), metadata=meta)
    (snap / f"{name}.yaml").write_text(f"models: ['{sig}']\n")
    return snap


def test_audio(seconds: float, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """Stereo noise plus a few tones: ``(frames, 2)`` float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    tones = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1375 * t)
    x = 0.05 * rng.standard_normal((n, 2)) + tones[:, None] * np.array([1.0, 0.7])
    return x.astype(np.float32)


test_audio.__test__ = False  # a helper, not a pytest test


def snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference``, in dB."""
    ref = np.asarray(reference, dtype=np.float64)
    err = np.asarray(estimate, dtype=np.float64) - ref
    return float(10 * np.log10((ref**2).sum() / max((err**2).sum(), 1e-300)))
