"""Where and how the model computes: device, precision, and CPU speed-ups.

Split from :mod:`stemtui.core.separation.models` (which finds and loads models): this
module decides the torch device (``auto``: CUDA, then MPS, then the CPU),
whether bf16 is worth it on this processor, and holds the inference-time
speed-ups (bf16 weights cast once, attention one head at a time).
"""

from __future__ import annotations

import sys

from stemtui.core.errors import BadInput

# -- device and precision ----------------------------------------------------------


def resolve_device(name: str = "auto") -> str:
    """The torch device to run on: ``auto`` tries CUDA, then MPS, then the CPU.

    Raises:
        BadInput: An explicit device that this machine lacks, or an unknown name.
    """
    import torch

    name = (name or "auto").lower()
    has = {
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "cpu": True,
    }
    if name == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if has[d])
    if name not in has:
        raise BadInput(f"--device {name}", "expected auto, cpu, cuda or mps")
    if not has[name]:
        raise BadInput(f"--device {name}", f"{name.upper()} is not available on this machine")
    return name


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX-BF16).

    Without those, oneDNN emulates bf16 and it is slower than fp32.
    """
    try:
        import torch

        if "AMX" in str(torch.backends.cpu.get_cpu_capability()).upper():
            return True
    except Exception:  # noqa: BLE001 - a probe: any failure (old torch, odd build) only means "not known"
        pass
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def pick_precision(device: str, requested: str = "auto") -> str:
    """``fp32`` or ``bf16``: ``auto`` picks bf16 only where it runs fast.

    Raises:
        BadInput: An unknown precision name.
    """
    requested = (requested or "auto").lower()
    if requested in ("fp32", "bf16"):
        return requested
    if requested != "auto":
        raise BadInput(f"--precision {requested}", "expected auto, fp32 or bf16")
    if device == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    if device == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "fp32"  # MPS: bf16 autocast support varies by macOS version


# -- running fast on a CPU ---------------------------------------------------------


def _attention(q, k, v, rows: int = 512):
    """Softmax attention of ``(B, H, L, D)`` tensors, one head and row block at a time.

    Alone, on the full-size model's shapes (8 heads, 2688 x 2688, bf16, one
    core): 110 ms, against 214 ms for the same products batched over heads
    (the 8 score blocks overflow the cache) and 232 ms for torch's CPU flash
    attention; torch's native MHA path (what demucs gets) ran its QK^T at
    ~90 GFLOP/s. Inside the whole model the difference to the batched
    version was within noise (~3 %).
    """
    import torch

    with torch.autocast(q.device.type, enabled=False):  # q, k, v are already in the compute dtype
        q = q * (q.shape[-1] ** -0.5)
        kt = k.transpose(-1, -2).contiguous().to(q.dtype)
        v = v.to(q.dtype)
        out = q.new_empty((*q.shape[:-1], v.shape[-1]))
        for b in range(q.shape[0]):
            for h in range(q.shape[1]):
                for i in range(0, q.shape[2], rows):
                    scores = torch.softmax(torch.mm(q[b, h, i : i + rows], kt[b, h]), dim=-1)
                    torch.mm(scores, v[b, h], out=out[b, h, i : i + rows])
    return out


def _mha_forward(
    self,
    query,
    key,
    value,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    average_attn_weights=True,
    is_causal=False,
):
    """``nn.MultiheadAttention.forward`` for demucs's unmasked, batch-first use."""
    import torch.nn.functional as F

    if (
        key_padding_mask is not None
        or attn_mask is not None
        or need_weights
        or is_causal
        or self.training
        or not self.batch_first
        or not self._qkv_same_embed_dim
        or self.bias_k is not None
    ):
        return type(self).forward(
            self, query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal
        )
    (b, lq, e), lk, h = query.shape, key.shape[1], self.num_heads
    w, bias = self.in_proj_weight, self.in_proj_bias
    if query is key and key is value:
        q, k, v = F.linear(query, w, bias).chunk(3, -1)
    else:
        q = F.linear(query, w[:e], bias[:e])
        k, v = F.linear(key, w[e : 2 * e], bias[e : 2 * e]), F.linear(value, w[2 * e :], bias[2 * e :])
    q, k, v = (t.reshape(b, n, h, e // h).transpose(1, 2) for t, n in ((q, lq), (k, lk), (v, lk)))
    out = _attention(q, k, v).transpose(1, 2).reshape(b, lq, e)
    return F.linear(out, self.out_proj.weight, self.out_proj.bias), None


class fast_inference:
    """Temporarily speed a model up for bf16 on the CPU; undone on exit.

    * Conv and linear weights are cast to bf16 once, instead of by autocast
      at every call (norm layers stay fp32: autocast runs them in fp32).
    * Attention modules use :func:`_attention`.

    Measured on the full-size HTDemucs (2 cores, AVX512-BF16), batched-head
    attention: 1.70 s -> 1.43 s per segment against plain autocast, SNR vs
    fp32 unchanged (47.8 dB). The fp32 originals are kept and put back, so
    the caller's model is unchanged.
    """

    def __init__(self, model, device: str, precision: str) -> None:
        self.model, self.active = model, device == "cpu" and precision == "bf16"
        self._saved: list = []
        self._patched: list = []

    def __enter__(self):
        if not self.active:
            return self.model
        import types

        import torch
        from torch import nn

        kinds = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.Linear, nn.MultiheadAttention)
        for mod in self.model.modules():
            if isinstance(mod, nn.MultiheadAttention):
                mod.forward = types.MethodType(_mha_forward, mod)
                self._patched.append(mod)
            if isinstance(mod, kinds):
                for p in mod.parameters(recurse=False):
                    if p.dtype == torch.float32:
                        self._saved.append((p, p.data))
                        p.data = p.data.to(torch.bfloat16)
        return self.model

    def __exit__(self, *exc) -> None:
        for p, data in self._saved:
            p.data = data
        for mod in self._patched:
            mod.__dict__.pop("forward", None)
        self._saved, self._patched = [], []
