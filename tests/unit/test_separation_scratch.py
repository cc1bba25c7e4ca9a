"""A separation's scratch files: streamed .npy, pread frames, pwrite stems; the block decoder.

Real files in tmp; each check compares against numpy's own reader or
:func:`read_audio` on the same file.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import soundfile as sf

from stemtui.core.errors import BadInput
from stemtui.core.library.audioblocks import audio_length, decode_blocks
from stemtui.core.library.audiofiles import read_audio
from stemtui.core.separation.budget import Budget, check_disk, estimate
from stemtui.core.separation.scratch import NpyFrames, StemsFile, stem_blocks, write_npy
from stemtui.core.separation.splitter import SeparationOptions


def test_write_npy_streams_blocks_that_numpy_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((n, 2)).astype(np.float32) for n in (5, 70000, 0, 3)]
    path = tmp_path / "x.npy"
    assert write_npy(path, iter(blocks)) == 70008
    whole = np.concatenate(blocks)
    np.testing.assert_array_equal(np.load(path), whole)
    f = NpyFrames(path)
    assert (f.frames, f.channels) == (70008, 2)
    np.testing.assert_array_equal(f.read(-10, 20), whole[:20])  # clipped to the file
    np.testing.assert_array_equal(f.read(69990, 80000), whole[69990:])
    np.testing.assert_array_equal(np.concatenate(list(f.blocks(1000))), whole)
    f.close()


def test_npy_frames_refuses_other_arrays(tmp_path):
    np.save(tmp_path / "f64.npy", np.zeros((4, 2)))
    with pytest.raises(BadInput, match="float32"):
        NpyFrames(tmp_path / "f64.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(BadInput, match=r"not a float32 \.npy"):
        NpyFrames(tmp_path / "junk.npy")


def test_stems_file_is_sparse_until_written_and_reads_back_by_stem(tmp_path):
    path = tmp_path / "stems.f32"
    out = StemsFile(path, 3, 1000)
    assert path.stat().st_size == 3 * 1000 * 8
    block = np.arange(3 * 10 * 2, dtype=np.float32).reshape(3, 10, 2)
    out.write(500, block)
    with pytest.raises(ValueError):
        out.write(995, block)
    out.close()
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=(3, 1000, 2))
    np.testing.assert_array_equal(mapped[:, 500:510], block)
    assert not mapped[:, :500].any() and not mapped[:, 510:].any()
    for i in range(3):
        np.testing.assert_array_equal(np.concatenate(list(stem_blocks(path, 1000, i, block=64))), mapped[i])


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_decode_blocks_gives_read_audio_samples(tmp_path, fmt):
    rng = np.random.default_rng(1)
    x = (0.3 * rng.standard_normal((100_000, 2))).astype(np.float32)
    path = tmp_path / f"a.{fmt}"
    sf.write(str(path), x, 44100) if fmt != "mp3" else _write_mp3(path, x)
    ref, rate = read_audio(path)
    r2, blocks = decode_blocks(path, block=4096)
    assert r2 == rate
    np.testing.assert_array_equal(np.concatenate(list(blocks)), ref)
    frames, r3 = audio_length(path)
    assert r3 == rate and abs(frames - ref.shape[0]) <= (0 if fmt != "mp3" else 4410)


def _write_mp3(path, x):
    sf.write(str(path), x, 44100, format="MP3")


def test_decode_blocks_zeroes_nan_with_one_warning(tmp_path, caplog):
    x = np.zeros((50_000, 2), dtype=np.float32)
    x[10, 0] = np.nan
    x[40_000, 1] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 44100, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="stemtui.audiofiles"):
        _, blocks = decode_blocks(path, block=1024)
        data = np.concatenate(list(blocks))
    assert np.isfinite(data).all()
    warnings = [r.getMessage() for r in caplog.records if "non-finite" in r.getMessage()]
    assert len(warnings) == 1 and "2 non-finite samples" in warnings[0]


def test_disk_estimate_and_refusal(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(str(path), np.zeros((44100 * 10, 2), dtype=np.float32), 44100)
    b = estimate(path, SeparationOptions(model="demucs_unittest"), tmp_path, tmp_path)
    assert b.seconds == pytest.approx(10.0)
    # 4 float32 stereo stems are 32 bytes a frame; the FLAC stems come on top.
    assert b.peak_bytes >= 10 * 44100 * 32 + b.stems_bytes and b.free_bytes > 0
    check_disk(str(path), b, tmp_path)  # fits
    small = Budget(**{**b.__dict__, "free_bytes": 1000})
    with pytest.raises(Exception, match=f"{path}: not enough disk space in {tmp_path}") as info:
        check_disk(str(path), small, tmp_path)
    assert info.value.exit_code == 1 and "\n" not in str(info.value)
    assert os.listdir(tmp_path) == ["a.wav"]
