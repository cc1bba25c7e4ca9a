"""The progressive split loop: demucs's segment grid, computed pass by pass.

Split from :mod:`stemtui.core.separation.splitter` (options, progress, the public
``separate_array``); see that module's docstring for why this loop gives the
same stems as a one-shot ``apply_model`` while publishing final frames early.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from stemtui.core.errors import BadInput
from stemtui.core.separation.compute import fast_inference
from stemtui.core.separation.splitter import Progress, SeparationCancelled, SeparationOptions


class _Pass:
    """One model (of a bag) at one shift: demucs's segment grid over the mix.

    Local frame ``o`` of the pass is mix frame ``o - delay``: what demucs
    reads from its zero-padded, shifted ``TensorChunk`` of the whole mix,
    read here from the mix a window at a time (:class:`_Mix`).
    """

    def __init__(self, model, length: int, delay: int, coef, seg_len: int, overlap: float):
        import torch as th

        self.model, self.length, self.delay = model, length, delay
        self.coef = coef  # (sources,) bag weight / total / shifts
        self.seg_len = seg_len
        self.stride = int((1 - overlap) * seg_len)
        if self.stride <= 0:
            raise BadInput(f"--overlap {overlap}", "leaves no stride between segments")
        self.offsets = list(range(0, length, self.stride))
        self.next = 0
        # Exactly apply_model's weight (transition_power 1).
        w = th.cat([th.arange(1, seg_len // 2 + 1), th.arange(seg_len - seg_len // 2, 0, -1)])
        self.weight = w / w.max()

    def frontier(self, frames: int) -> int:
        """Output frame before which this pass will add nothing more."""
        if self.next >= len(self.offsets):
            return frames
        return max(0, min(frames, self.offsets[self.next] - self.delay))

    def sum_weight(self, o: int, n: int):
        """Total weight of this pass's segments on local frames ``[o, o + n)``."""
        import torch as th

        sw = th.zeros(n)
        lo = max(0, -(-(o - self.seg_len + 1) // self.stride))
        for j in range(lo, len(self.offsets)):
            o2 = self.offsets[j]
            if o2 >= o + n:
                break
            n2 = min(self.seg_len, self.length - o2)
            a, b = max(o, o2), min(o + n, o2 + n2)
            if b > a:
                sw[a - o : b - o] += self.weight[a - o2 : b - o2]
        return sw


class _Mix:
    """The normalised mix at the model's rate, read a window at a time.

    ``read(a, b)`` gives frames ``[a, b)`` as ``(n, 2)`` float32 (from memory
    or from a file); normalising a window is the same float32 arithmetic as
    normalising the whole mix, so the model sees the samples demucs gives it.
    """

    def __init__(self, read: Callable[[int, int], np.ndarray], frames: int, mean, std):
        self.read, self.frames, self.mean, self.std = read, frames, mean, std

    def window(self, start: int, stop: int):
        """``(1, 2, stop - start)`` normalised frames, zeros outside the mix (demucs's padding)."""
        import torch as th
        import torch.nn.functional as F

        a, b = max(0, start), min(self.frames, stop)
        if b <= a:
            return th.zeros(1, 2, stop - start)
        x = (th.from_numpy(self.read(a, b).T) - self.mean) / self.std
        return F.pad(x[None], (a - start, stop - b))


def norm_stats(blocks: Iterable[np.ndarray]) -> tuple[float, float]:
    """Mean and (unbiased) std of the mono downmix, in float64, a block at a time.

    demucs.api.Separator takes them over the whole mix at once; merging
    per-block moments (Chan et al.) gives the same figures to float32
    precision without holding the mix.
    """
    n, mean, m2 = 0, 0.0, 0.0
    for blk in blocks:
        ref = blk.astype(np.float64).mean(axis=1)
        k = ref.shape[0]
        if not k:
            continue
        mb = float(ref.mean())
        m2b = float(np.square(ref - mb).sum())
        delta, tot = mb - mean, n + k
        mean += delta * k / tot
        m2 += m2b + delta * delta * n * k / tot
        n = tot
    return mean, (m2 / (n - 1)) ** 0.5 if n > 1 else 0.0


def _passes(model, options: SeparationOptions, frames: int) -> list[_Pass]:
    """Every (model, shift) pass, with offsets drawn in apply_model's order."""
    import torch as th
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    # Any: demucs models keep samplerate and segment as plain attributes, which
    # nn.Module's __getattr__ would type as Tensor | Module.
    models: list[Any]
    if isinstance(model, BagOfModels):
        models, weights = list(model.models), [list(map(float, w)) for w in model.weights]
    else:
        models, weights = [model], [[1.0] * len(model.sources)]
    totals = np.sum(np.array(weights, dtype=np.float64), axis=0)
    rng = random.Random(options.seed)
    shifts = int(options.shifts)
    out: list[_Pass] = []
    for sub, w in zip(models, weights, strict=True):
        seg = options.segment if options.segment is not None else sub.segment
        if isinstance(sub, HTDemucs) and options.segment is not None and options.segment > sub.segment:
            raise BadInput(f"--segment {options.segment}", f"longer than this model's {float(sub.segment):g} s")
        seg_len = int(sub.samplerate * seg)
        coef = th.tensor([w[k] / totals[k] / max(shifts, 1) for k in range(len(w))], dtype=th.float32)
        if not shifts:
            out.append(_Pass(sub, frames, 0, coef, seg_len, options.overlap))
            continue
        # apply_model pads the mix by max_shift on both sides and starts at
        # a random offset in the padding: local frame o is mix frame
        # o - (max_shift - offset).
        max_shift = int(0.5 * sub.samplerate)
        for _ in range(shifts):
            offset = rng.randint(0, max_shift)
            out.append(_Pass(sub, frames + max_shift - offset, max_shift - offset, coef, seg_len, options.overlap))
    return out


def _autocast(device: str, precision: str):
    import contextlib

    import torch as th

    if precision != "bf16":
        return contextlib.nullcontext()
    return th.autocast("cuda" if device == "cuda" else "cpu", dtype=th.bfloat16)


def _schedule(passes: list[_Pass], frames: int) -> list[tuple[_Pass, int]]:
    """The order segments are computed in: always the pass furthest behind."""
    order = []
    while True:
        live = [p for p in passes if p.next < len(p.offsets)]
        if not live:
            break
        p = min(live, key=lambda q: q.frontier(frames))
        order.append((p, p.offsets[p.next]))
        p.next += 1
    for p in passes:
        p.next = 0
    return order


def _segment(p: _Pass, o: int, segment, device: str, precision: str, mix: _Mix):
    """One segment through the model: ``(sources, 2, n)`` float32 on the CPU.

    The body of ``apply_model(split=False)`` on ``TensorChunk(source, o,
    seg_len)``: the same padding from the neighbouring samples, valid length
    and centre trim. Inference mode and autocast are per thread, so they are
    entered here.
    """
    import torch as th
    from demucs.htdemucs import HTDemucs
    from demucs.utils import center_trim

    n = min(p.seg_len, p.length - o)
    model = p.model
    if isinstance(model, HTDemucs) and segment is not None:
        valid = int(segment * model.samplerate)
    elif hasattr(model, "valid_length"):
        valid = model.valid_length(n)
    else:
        valid = n
    start = o - p.delay - (valid - n) // 2  # TensorChunk.padded's window, in mix frames
    x = mix.window(start, start + valid)
    with th.inference_mode(), _autocast(device, precision):
        est = model(x.to(device))
    return center_trim(est, n)[0].float().cpu()


def _run(model, mix: _Mix, sink, fold, options, device, precision, t0, on_progress, cancel_event, on_ready, jobs):
    """Compute every segment; final frames go to ``sink(start, (stems, n, 2) block)``.

    Only the frames not yet final are held: an accumulator starting at the
    first frame that is not final (``base``), about two segments long. Once
    frames become final they are de-normalised, handed to ``sink`` and
    dropped. The sums per frame are the same, in the same order, as into a
    whole-song buffer.
    """
    import torch as th

    frames = mix.frames
    total_s = frames / model.samplerate
    passes = _passes(model, options, frames)
    order = _schedule(passes, frames)
    fold_t = th.from_numpy(fold)
    counts = fold.sum(axis=1).astype(np.float32)  # sources per output stem: each adds `mean`
    std_np, mean_np = np.float32(mix.std.item()), np.float32(mix.mean.item())
    done, ready, t_first = 0, 0, time.monotonic()
    cap = 2 * max(p.seg_len for p in passes) + 2 * model.samplerate
    acc = np.zeros((fold.shape[0], cap, 2), dtype=np.float32)  # acc[:, i] is output frame ready + i
    top = 0  # acc[:, :top] may hold contributions

    def report() -> None:
        if on_progress is not None:
            now, frac = time.monotonic(), done / len(order)
            eta = (now - t_first) / done * (len(order) - done) if done else None
            on_progress(Progress(frac, frac * total_s, total_s, now - t0, eta, options.model, device, precision, ready))

    def compute(job):
        if cancel_event is not None and cancel_event.is_set():
            raise SeparationCancelled("separation cancelled")
        return _segment(job[0], job[1], options.segment, device, precision, mix)

    def results():
        # Results come back in schedule order whatever the concurrency, so the
        # sums (and so the stems) are bit-identical for any number of jobs.
        if jobs <= 1:
            yield from map(compute, order)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs, thread_name_prefix="stemtui-seg") as pool:
            # A queue, not a list: a kept future keeps its segment's result,
            # which made memory grow with the song (56 MB a segment).
            futures = deque(pool.submit(compute, job) for job in order[:jobs])
            for k in range(len(order)):
                est = futures.popleft().result()
                if k + jobs < len(order):
                    futures.append(pool.submit(compute, order[k + jobs]))
                yield est
                del est

    report()
    model.to(device).eval()
    with fast_inference(model, device, precision):
        for (p, o), est in zip(order, results(), strict=True):
            n = est.shape[-1]
            scale = p.weight[:n] / p.sum_weight(o, n)
            contrib = th.einsum("rs,scn->rnc", fold_t * p.coef[None, :], est * scale).numpy()
            a = o - p.delay  # output frame of local frame o
            lo, hi = max(0, -a), min(n, frames - a)
            if hi > lo:
                end = a + hi - ready
                if end > acc.shape[1]:  # never on demucs's grids; kept for safety
                    acc = np.concatenate([acc, np.zeros_like(acc[:, : end - acc.shape[1]])], axis=1)
                acc[:, a + lo - ready : end] += contrib[:, lo:hi]
                top = max(top, end)
            p.next += 1
            done += 1
            new_ready = frames if done == len(order) else min(q.frontier(frames) for q in passes)
            if new_ready > ready:
                k = new_ready - ready
                if k > acc.shape[1]:
                    acc = np.concatenate([acc, np.zeros_like(acc[:, : k - acc.shape[1]])], axis=1)
                seg = acc[:, :k]
                seg *= std_np
                seg += (mean_np * counts)[:, None, None]
                sink(ready, seg)
                rest = max(0, top - k)
                acc[:, :rest] = acc[:, k : k + rest]  # numpy copies overlapping ranges correctly
                acc[:, rest : max(top, k)] = 0.0
                top, ready = rest, new_ready
                if on_ready is not None:
                    on_ready(ready)
            report()
            if cancel_event is not None and cancel_event.is_set() and done < len(order):
                raise SeparationCancelled("separation cancelled")
