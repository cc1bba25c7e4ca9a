"""The separation engine, in process: exactness, progress, cancel, model loading.

Real demucs code throughout; only the network is absent (HF_HUB_OFFLINE=1).
"""

# The imports after importorskip need torch: it has to be checked first.
# ruff: noqa: E402

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from demucs.apply import apply_model

from stemtui.core.audio.song import stem_sort_key
from stemtui.core.errors import BadInput
from stemtui.core.separation.models import cpu_has_fast_bf16
from stemtui.core.separation.splitter import (
    ModelUnavailable,
    SeparationCancelled,
    SeparationOptions,
    load_model,
    pick_precision,
    resolve_device,
    save_model_safetensors,
    separate_array,
)
from tests.tiny_models import (
    save_th,
    snr_db,
    test_audio,
    tiny_htdemucs,
    unittest_bag,
    write_hf_cache,
)

SR = 44100


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No hub, and an empty HuggingFace cache private to the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)


def one_shot(model, audio, shifts, seed, segment=None, overlap=0.25, names=None):
    """demucs's own answer: api.Separator's normalisation around apply_model.

    Rows follow ``names`` (stemtui lists stems in a musician's order), else
    the model's sources.
    """
    wav = torch.from_numpy(np.ascontiguousarray(audio.T))
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    random.seed(seed)
    with torch.no_grad():
        out = apply_model(
            model, ((wav - mean) / std)[None], shifts=shifts, split=True, overlap=overlap, segment=segment
        )
    out = (out * std + mean)[0].numpy().transpose(0, 2, 1)  # (sources, frames, 2)
    return out if names is None else out[[list(model.sources).index(n) for n in names]]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy machine OpenMP
    threads waiting for each other made these tests several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def unittest_model():
    return load_model("demucs_unittest")


@pytest.fixture(scope="module")
def audio20():
    return test_audio(20.0, SR)


@pytest.mark.parametrize("shifts", [1, 0])
def test_progressive_equals_one_shot_apply_model(unittest_model, audio20, shifts):
    if shifts == 0:
        audio20 = audio20[: 10 * SR]  # the same loop without the shift; half the length is enough
    opts = SeparationOptions(model="demucs_unittest", segment=3.0, shifts=shifts, precision="fp32", seed=5)
    readies, events = [], []
    names, out = separate_array(
        audio20, SR, opts, on_progress=events.append, on_ready=readies.append, model=unittest_model
    )
    assert names == sorted(unittest_model.sources, key=stem_sort_key) == ["vocals", "drums", "bass", "other"]
    ref = one_shot(unittest_model, audio20, shifts, seed=5, segment=3.0, names=names)
    assert out.shape == ref.shape == (4, audio20.shape[0], 2)
    assert snr_db(out, ref) >= 60
    # No seams: every segment boundary region is as exact as the whole.
    stride = int(0.75 * 3.0 * SR)
    for b in range(stride, audio20.shape[0] - 1000, stride):
        assert snr_db(out[:, b - 1000 : b + 1000], ref[:, b - 1000 : b + 1000]) >= 60

    # Stems became final progressively, the first well before the end.
    assert readies == sorted(readies) and len(set(readies)) == len(readies)
    assert len(readies) >= 4 and readies[0] < audio20.shape[0] // 3 and readies[-1] == audio20.shape[0]
    # Progress: monotonic, ends at 1.0, carries what runs.
    fr = [e.fraction for e in events]
    assert fr[0] == 0.0 and fr[-1] == 1.0 and fr == sorted(fr)
    assert [e.ready_frames for e in events] == sorted(e.ready_frames for e in events)
    assert [e.audio_done_s for e in events] == sorted(e.audio_done_s for e in events)
    assert events[-1].audio_done_s == pytest.approx(audio20.shape[0] / SR, abs=1e-3)
    assert events[0].eta_s is None and events[-2].eta_s is not None
    assert {(e.model, e.device, e.precision) for e in events} == {("demucs_unittest", "cpu", "fp32")}


def test_bag_with_weights_equals_apply_model():
    bag = unittest_bag()
    audio = test_audio(9.0, SR, seed=2)
    opts = SeparationOptions(model="bag", segment=2.0, shifts=1, precision="fp32", seed=11)
    readies = []
    names, out = separate_array(audio, SR, opts, on_ready=readies.append, model=bag)
    assert snr_db(out, one_shot(bag, audio, 1, seed=11, segment=2.0, names=names)) >= 60
    assert readies[0] < audio.shape[0] // 2 and readies[-1] == audio.shape[0]


def test_cancel_stops_within_a_segment(unittest_model, audio20):
    cancel = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p.fraction)
        if p.fraction > 0:
            cancel.set()

    opts = SeparationOptions(model="demucs_unittest", segment=3.0, precision="fp32")
    with pytest.raises(SeparationCancelled):
        separate_array(audio20, SR, opts, on_progress=on_progress, cancel_event=cancel, model=unittest_model)
    assert len(seen) == 2  # the start, one segment, then it stopped


def test_two_stems_vocals_and_instrumental(unittest_model):
    audio = test_audio(6.0, SR, seed=3)
    opts = SeparationOptions(model="demucs_unittest", segment=2.0, precision="fp32")
    names, full = separate_array(audio, SR, opts, model=unittest_model)
    opts.two_stems = "vocals"
    two_names, two = separate_array(audio, SR, opts, model=unittest_model)
    assert two_names == ["vocals", "instrumental"]
    np.testing.assert_allclose(two[0], full[names.index("vocals")], atol=1e-5)
    others = sum(full[i] for i, n in enumerate(names) if n != "vocals")
    np.testing.assert_allclose(two[1], others, atol=1e-4)
    np.testing.assert_allclose(two.sum(0), full.sum(0), atol=1e-4)
    opts.two_stems = "piano"
    with pytest.raises(BadInput, match="piano"):
        separate_array(audio, SR, opts, model=unittest_model)


def test_offline_named_model_is_one_clear_line(tmp_path):
    with pytest.raises(ModelUnavailable) as info:
        load_model("htdemucs")
    msg = str(info.value)
    assert "\n" not in msg
    assert "'htdemucs'" in msg and "--model-repo" in msg and str(tmp_path / "hf" / "hub") in msg
    assert info.value.exit_code == 2
    with pytest.raises(ModelUnavailable) as info:
        load_model("htdemucs_ft", repo=tmp_path)
    assert str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_tiny_htdemucs_from_th_and_safetensors(tmp_path):
    model = tiny_htdemucs()
    save_th(model, tmp_path / "th", "tiny")
    save_model_safetensors(model, tmp_path / "st", "tiny")
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["tiny.json", "tiny.safetensors"]
    a, b = load_model("tiny", tmp_path / "th"), load_model("tiny", tmp_path / "st")
    for k, v in model.state_dict().items():
        assert torch.equal(a.state_dict()[k], v) and torch.equal(b.state_dict()[k], v)
    assert b.segment == model.segment and b.sources == model.sources

    audio = test_audio(3.5, SR, seed=4)
    opts = SeparationOptions(model="tiny", repo=tmp_path / "st", precision="fp32", seed=2)
    names, out = separate_array(audio, SR, opts)  # loads via the repo, runs the transformer
    assert names == ["vocals", "drums", "bass", "guitar"]  # the model's sources, in a musician's order
    assert snr_db(out, one_shot(model, audio, 1, seed=2, names=names)) >= 60


def test_fast_build_skips_init_but_loads_every_tensor(tmp_path):
    """The loader builds without random init; the state must cover every tensor."""
    import json as _json

    from safetensors.torch import load_file, save_file

    model = tiny_htdemucs(seed=3)
    save_model_safetensors(model, tmp_path, "tiny")
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    loaded = load_model("tiny", tmp_path)
    assert torch.equal(torch.rand(3), expected)  # building drew nothing from the global RNG
    assert torch.empty(4).uniform_(1.0, 2.0).min() >= 1.0  # Tensor.uniform_ is itself again
    assert all(p.requires_grad for p in loaded.parameters()) and not loaded.training
    x = torch.from_numpy(np.ascontiguousarray(test_audio(1.0, SR, seed=1).T))[None]  # one segment
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    # Saved again, the init arguments are the ones it was saved with (not rescale=0).
    save_model_safetensors(loaded, tmp_path / "again", "tiny")
    assert _json.loads((tmp_path / "again" / "tiny.json").read_text()) == _json.loads(
        (tmp_path / "tiny.json").read_text()
    )
    # A state that misses a tensor would leave it uninitialised: refused.
    state = load_file(str(tmp_path / "tiny.safetensors"))
    state.pop(next(iter(state)))
    save_file(state, str(tmp_path / "tiny.safetensors"))
    with pytest.raises(ModelUnavailable, match="state_dict"):
        load_model("tiny", tmp_path)


def test_model_rate_resampling_and_mono_input(tmp_path):
    model = tiny_htdemucs(samplerate=22050)
    save_model_safetensors(model, tmp_path, "tiny22")
    mono = test_audio(2.5, SR)[:, 0]
    _, out = separate_array(mono, SR, SeparationOptions(model="tiny22", repo=tmp_path, precision="fp32"))
    assert out.shape == (4, int(2.5 * 22050), 2)
    assert np.isfinite(out).all() and np.abs(out).max() > 0


def test_bag_saved_as_safetensors_loads_back(tmp_path):
    bag = unittest_bag()
    save_model_safetensors(bag, tmp_path, "mybag")
    loaded = load_model("mybag", tmp_path)
    assert len(loaded.models) == 2 and loaded.weights == bag.weights
    assert not list(tmp_path.glob("*.th"))


def test_safetensors_json_refuses_foreign_classes(tmp_path):
    save_model_safetensors(tiny_htdemucs(), tmp_path, "evil")
    spec = json.loads((tmp_path / "evil.json").read_text())
    spec["klass"] = "os.system"
    (tmp_path / "evil.json").write_text(json.dumps(spec))
    with pytest.raises(ModelUnavailable, match="refusing model class"):
        load_model("evil", tmp_path)


def test_hf_cache_copy_loads_offline(tmp_path):
    model = tiny_htdemucs()
    write_hf_cache(tmp_path / "hf" / "hub", "htdemucs", model, "adefossez/HTDemucs")
    loaded = load_model("htdemucs")
    assert loaded.sources == model.sources
    sub = loaded.models[0]
    assert all(torch.equal(sub.state_dict()[k], v) for k, v in model.state_dict().items())


def test_bf16_precision_runs_close_to_fp32():
    model = tiny_htdemucs()
    audio = test_audio(2.0, SR, seed=6)
    opts = SeparationOptions(model="tiny", precision="fp32")
    _, ref = separate_array(audio, SR, opts, model=model)
    opts.precision = "bf16"
    _, out = separate_array(audio, SR, opts, model=model)
    assert snr_db(out, ref) >= 25


def test_device_and_precision_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(BadInput):
        resolve_device("tpu")
    assert pick_precision("cpu", "fp32") == "fp32" and pick_precision("cpu", "bf16") == "bf16"
    assert pick_precision("cpu", "auto") == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert pick_precision("mps", "auto") == "fp32"
    with pytest.raises(BadInput):
        pick_precision("cpu", "fp8")


def test_options_validate_and_cache_key():
    opts = SeparationOptions(device="cuda", repo="/x")
    key = opts.cache_key_fields()
    assert set(key) == {"model", "two_stems", "shifts", "overlap", "precision", "segment", "seed"}
    for bad in (SeparationOptions(shifts=-1), SeparationOptions(overlap=1.0), SeparationOptions(segment=0)):
        with pytest.raises(BadInput):
            bad.validate()


def test_concurrent_jobs_and_the_bf16_fast_path_leave_the_model_as_it_was():
    model = tiny_htdemucs()
    audio = test_audio(2.5, SR, seed=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = SeparationOptions(model="tiny", precision="bf16")
    _, one = separate_array(audio, SR, opts, model=model)
    _, two = separate_array(audio, SR, opts, model=model, jobs=2)
    assert snr_db(two, one) >= 90  # same segments, same sums; only kernel rounding may differ
    for k, v in model.state_dict().items():
        assert v.dtype == before[k].dtype and torch.equal(v, before[k])
    assert not any("forward" in vars(m) for m in model.modules())
