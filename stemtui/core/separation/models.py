"""Finding and loading Demucs models, safely, and picking device and precision.

Where a model comes from, in order:

1. ``demucs_unittest``: demucs's random-weight test model, built offline.
2. A folder the user named (``--model-repo DIR``), holding for a model or for
   each model of a bag (``NAME.yaml``, demucs's bag format):

   * ``SIG.safetensors`` + ``SIG.json`` (written by :func:`save_model_safetensors`):
     the JSON names the model class (one of demucs's model classes, nothing
     else is accepted) and its init arguments; the weights are plain tensors.
     Nothing is unpickled.
   * ``SIG.safetensors`` alone, as exported to the HuggingFace hub by demucs
     (class and arguments in the file's metadata, same whitelist).
   * ``SIG.th`` or ``SIG-CHECKSUM.th``: demucs's own pickle format. Pickles can
     run code when loaded, so they are read only from a folder the user named,
     never from a cache.
3. The HuggingFace hub cache (``adefossez/HTDemucs`` ... as demucs names them),
   downloading there when the hub is reachable and ``HF_HUB_OFFLINE`` is unset.
   Demucs's legacy download list (pickles fetched from a URL) is not used.

When none has the model, :class:`ModelUnavailable` says, in one line, which
model, where it looked and how to fix it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from fractions import Fraction
from pathlib import Path

from stemtui.core.errors import BadInput, StemtuiError

#: Model classes a safetensors JSON/metadata may name, and their modules.
MODEL_CLASSES = {
    "Demucs": "demucs.demucs",
    "HDemucs": "demucs.hdemucs",
    "HTDemucs": "demucs.htdemucs",
}
DEFAULT_NAMESPACE = "adefossez"


class ModelUnavailable(StemtuiError):
    """The named model's weights are nowhere to be found or cannot be read."""

    exit_code = 2


# -- paths and environment ---------------------------------------------------


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hf_cache_dir() -> Path:
    """The HuggingFace hub cache folder, from the environment at call time.

    huggingface_hub reads its environment once at import; reading it here
    again lets tests (and callers) change ``HF_HOME`` after that import.
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hub_offline() -> bool:
    """True when the environment forbids reaching the HuggingFace hub."""
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub's host opens within ``timeout``.

    huggingface_hub retries a failing request five times with back-off
    (about 25 s, printing each retry); one quick probe avoids that wait when
    there is no network.
    """
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def hf_repo_id(name: str) -> tuple[str, str]:
    """``(repo_id, model name)`` demucs uses on the hub, e.g. ``adefossez/HTDemucs``."""
    from demucs.hf import hf_repo_name

    namespace = DEFAULT_NAMESPACE
    name = name.removeprefix("hf://")
    if "/" in name:
        namespace, name = name.split("/", 1)
    return f"{namespace}/{hf_repo_name(name)}", name


# -- JSON encoding of init arguments (Fraction is HTDemucs's segment) ---------


def _encode(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store init argument {value!r} as JSON")


def _model_class(name: str, where: str):
    """The demucs model class called ``name``; refuses anything else."""
    import importlib

    short = name.rsplit(".", 1)[-1]
    module = MODEL_CLASSES.get(short)
    if module is None or ("." in name and name.rsplit(".", 1)[0] != module):
        raise ModelUnavailable(f"{where}: refusing model class {name!r} (allowed: {', '.join(MODEL_CLASSES)})")
    return getattr(importlib.import_module(module), short)


def _build(klass, args, kwargs, state, segment=None):
    """Instantiate a model from its init arguments and load plain tensors.

    As ``demucs.states.load_model`` (init arguments this demucs lacks are
    dropped), less the random init and rescaling of weights the state then
    replaces, and a copy of every tensor: 0.1 s instead of 0.6-0.8 s for the
    full-size HTDemucs. The state must name every parameter and buffer
    (``strict``), so no uninitialised value survives.
    """
    import inspect

    from demucs.hf import _decode_json

    args, kwargs = _decode_json(args), dict(_decode_json(kwargs))
    params = inspect.signature(klass).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in params}
    with _no_weight_init():
        # rescale only scales the random initial weights (0 skips it).
        model = klass(*args, **{**kwargs, "rescale": 0} if "rescale" in params else kwargs)
    model._init_args_kwargs = (args, kwargs)  # as saved, for save_model_safetensors
    model.load_state_dict(state, strict=True, assign=True)
    if segment is not None:
        model.segment = _decode_json(segment)
    return model.eval()


_INIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_weight_init():
    """Skip random weight initialisation while a model is built.

    Layers fill their weights from their constructors through
    ``torch.nn.init``, which ends in ``Tensor.uniform_`` or ``normal_``; the
    loaded state overwrites all of them. Those two are no-ops meanwhile.
    """
    import torch

    with _INIT_LOCK:
        saved = {n: torch.Tensor.__dict__.get(n) for n in ("uniform_", "normal_")}
        for n in saved:
            setattr(torch.Tensor, n, lambda tensor, *_a, **_k: tensor)
        try:
            yield
        finally:
            for n, f in saved.items():
                if f is None:
                    delattr(torch.Tensor, n)
                else:
                    setattr(torch.Tensor, n, f)


def _load_safetensors(path: Path, spec: Path | None):
    """Load one model from safetensors weights, with its class from ``spec`` or metadata."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}
    if spec is not None:
        info = json.loads(spec.read_text())
        klass, args, kwargs = info["klass"], info.get("args", []), info.get("kwargs", {})
        segment = info.get("segment")
    elif "klass" in metadata:
        if "structure" in metadata:
            # Quantized (diffq) states need diffq and rebuild classes by name.
            raise ModelUnavailable(f"{path}: quantized models are not supported (use a non-_q model)")
        klass = metadata["klass"]
        args, kwargs = json.loads(metadata["args"]), json.loads(metadata["kwargs"])
        segment = None
    else:
        raise ModelUnavailable(f"{path}: no {path.stem}.json beside it and no model class in its metadata")
    return _build(_model_class(klass, str(path)), args, kwargs, state, segment)


def save_model_safetensors(model, folder: str | os.PathLike, name: str) -> list[Path]:
    """Save a demucs model so :func:`load_model` reads it without unpickling.

    A single model becomes ``NAME.safetensors`` (weights) + ``NAME.json``
    (``{"klass", "args", "kwargs", "segment"}``). A bag becomes ``NAME.yaml``
    (demucs's bag format) plus one such pair per model, ``NAME_m0``, ...
    Load it back with ``load_model(NAME, repo=folder)`` or ``--model-repo``.

    Args:
        model: A demucs ``Demucs``/``HDemucs``/``HTDemucs`` or ``BagOfModels``.
        folder: Destination folder, created if needed.
        name: The model name to save under.

    Returns:
        The files written.
    """
    from demucs.apply import BagOfModels

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, BagOfModels):
        import yaml

        written: list[Path] = []
        sigs = [f"{name}_m{i}" for i in range(len(model.models))]
        for sig, sub in zip(sigs, model.models, strict=True):
            written += save_model_safetensors(sub, folder, sig)
        bag = {"models": sigs, "weights": [[float(w) for w in ws] for ws in model.weights]}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(bag))
        return [*written, folder / f"{name}.yaml"]
    from safetensors.torch import save_file

    klass = type(model).__name__
    if klass not in MODEL_CLASSES:
        raise TypeError(f"not a demucs model: {klass}")
    args, kwargs = model._init_args_kwargs
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    spec = {"klass": klass, "args": _encode(list(args)), "kwargs": _encode(dict(kwargs))}
    if getattr(model, "segment", None) is not None:
        spec["segment"] = _encode(model.segment)
    save_file(state, str(folder / f"{name}.safetensors"), metadata={"format": "pt"})
    (folder / f"{name}.json").write_text(json.dumps(spec, indent=1))
    return [folder / f"{name}.safetensors", folder / f"{name}.json"]


# -- the sources ---------------------------------------------------------------


def _from_repo_single(sig: str, repo: Path):
    """One model from the user's folder, or None if it holds no such signature."""
    st = repo / f"{sig}.safetensors"
    if st.is_file():
        spec = repo / f"{sig}.json"
        return _load_safetensors(st, spec if spec.is_file() else None)
    from demucs.repo import LocalRepo

    local = LocalRepo(repo)
    if local.has_model(sig):
        # A pickle, allowed because the user named this folder.
        return local.get_model(sig).eval()
    return None


def _from_repo(name: str, repo: Path):
    model = _from_repo_single(name, repo)
    if model is not None:
        return model
    bag_file = repo / f"{name}.yaml"
    if not bag_file.is_file():
        return None
    import yaml
    from demucs.apply import BagOfModels

    bag = yaml.safe_load(bag_file.read_text()) or {}
    models = []
    for sig in bag.get("models", []):
        sub = _from_repo_single(str(sig), repo)
        if sub is None:
            raise ModelUnavailable(f"model {name!r}: {bag_file} lists {sig!r}, which is not in {repo}")
        models.append(sub)
    if not models:
        raise ModelUnavailable(f"model {name!r}: {bag_file} lists no models")
    return BagOfModels(models, bag.get("weights"), bag.get("segment")).eval()


def _from_hub(name: str):
    """A named model from the HuggingFace cache, fetching it when allowed.

    Returns:
        ``(model or None, why not)``.
    """
    from huggingface_hub import hf_hub_download

    repo_id, short = hf_repo_id(name)
    cache = str(hf_cache_dir())

    def fetch(filename: str) -> str:
        # Local first: no network round trip when the cache already has it.
        try:
            return hf_hub_download(repo_id, filename, cache_dir=cache, local_files_only=True)
        except Exception:
            if hub_offline() or online[0] is False:
                raise
        if online[0] is None:
            online[0] = hub_reachable()
            if not online[0]:
                raise ConnectionError("hub unreachable")
        return hf_hub_download(repo_id, filename, cache_dir=cache)

    online: list[bool | None] = [None]  # probed once, on the first cache miss

    import yaml
    from demucs.apply import BagOfModels

    try:
        bag = yaml.safe_load(Path(fetch(f"{short}.yaml")).read_text()) or {}
        paths = [Path(fetch(f"{sig}.safetensors")) for sig in bag.get("models", [])]
    except Exception as exc:  # noqa: BLE001 - the hub's errors are many: missing offline, unreachable, unknown repo...
        if hub_offline():
            why = "HF_HUB_OFFLINE is set"
        elif online[0] is False:
            why = "the hub is unreachable"
        else:
            why = f"download failed: {type(exc).__name__}"
        return None, why
    models = [_load_safetensors(p, None) for p in paths]
    return BagOfModels(models, bag.get("weights"), bag.get("segment")).eval(), ""


def _unavailable(name: str, repo: Path | None, why: str) -> ModelUnavailable:
    repo_id, _ = hf_repo_id(name)
    looked = f"in {repo} ({name}.safetensors+.json, {name}.th or {name}.yaml) nor " if repo else ""
    return ModelUnavailable(
        f"model {name!r} not found {looked}in the HuggingFace cache {hf_cache_dir()} "
        f"({repo_id}; {why}); fix: pass --model-repo DIR with the model's files "
        f"({name}.yaml plus .safetensors+.json or .th per model), "
        f"or copy a HuggingFace hub cache holding {repo_id} to {hf_cache_dir()}"
    )


def load_model(name: str = "htdemucs", repo: str | os.PathLike | None = None):
    """Load a demucs model (single or bag) by name, in eval mode, on the CPU.

    Args:
        name: A demucs model name (``htdemucs``, ``htdemucs_ft``,
            ``htdemucs_6s``, ``mdx_extra``, ``hf://ns/name``...), a signature in
            ``repo``, or ``demucs_unittest``.
        repo: A folder the user named; see the module docstring.

    Raises:
        ModelUnavailable: Not found anywhere, unreadable, or an unsafe class.
        BadInput: ``repo`` is not a folder.
    """
    repo_path = Path(repo).expanduser() if repo is not None else None
    if repo_path is not None and not repo_path.is_dir():
        raise BadInput(str(repo_path), "--model-repo must be an existing folder")
    try:
        if name == "demucs_unittest":
            import torch
            from demucs.pretrained import get_model

            # Random weights, but the same in every process (the worker's
            # output must be comparable), without touching the global RNG.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                return get_model(name).eval()
        if repo_path is not None:
            model = _from_repo(name, repo_path)
            if model is not None:
                return model
        model, why = _from_hub(name)
        if model is None:
            raise _unavailable(name, repo_path, why)
        return model
    except StemtuiError:
        raise
    except SystemExit as exc:  # demucs's fatal() exits, e.g. a diffq model
        raise ModelUnavailable(f"model {name!r} cannot be loaded (demucs exited with {exc.code})") from None
    except Exception as exc:  # noqa: BLE001 - any failure of demucs's loader becomes ModelUnavailable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelUnavailable(f"model {name!r} cannot be loaded: {type(exc).__name__}: {first}") from None


# Device, precision and speed-ups live in stemtui.core.separation.compute; re-exported
# here because callers import them with the loading API.
from stemtui.core.separation.compute import (  # noqa: E402,F401
    cpu_has_fast_bf16,
    fast_inference,
    pick_precision,
    resolve_device,
)
