"""Trims a user keeps: the source's resolution and sound, the exact range, browser-playable."""
import av
import numpy as np
import pytest

from svmr import video as V
from svmr.cli import main
from svmr.trim import trim


def _streams(path: str) -> dict:
    with av.open(path) as container:
        out = {s.type: s.codec_context.name for s in container.streams}
        if container.streams.audio:
            samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
            out["audio_rms"] = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
            out["audio_s"] = len(samples) / container.streams.audio[0].codec_context.sample_rate / \
                container.streams.audio[0].codec_context.channels
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float32).ravel(), b.astype(np.float32).ravel())[0, 1])


def test_trim_keeps_resolution_sound_and_range(tmp_path, bunny):
    source = bunny
    out = str(tmp_path / "bunny.mp4")
    info = trim(source, out, 1.0, 3.5)
    original = V.probe(source)
    assert (info.width, info.height) == (original.width, original.height) == (1280, 720)
    assert info.duration == pytest.approx(2.5, abs=0.05)
    streams = _streams(out)
    assert streams["video"] == "h264" and streams["audio"] == "aac"
    assert streams["audio_s"] == pytest.approx(2.5, abs=0.05) and streams["audio_rms"] > 1e-3   # real sound
    # the first and last frames are the source's frames at the range's ends
    first, last = V.read_frames(out, times=[0.0, info.duration - 0.05])[0]
    expected = V.read_frames(source, times=[1.0, 3.45])[0]
    assert _corr(first, expected[0]) > 0.98 and _corr(last, expected[1]) > 0.98


def test_trim_of_an_avi_with_reordered_timestamps_and_ac3_sound(tmp_path, megamind):
    source = megamind
    out = str(tmp_path / "megamind.mp4")
    info = trim(source, out, 2.0, 5.0)
    assert (info.width, info.height) == (720, 528) and info.duration == pytest.approx(3.0, abs=0.05)
    assert _streams(out)["audio"] == "aac"
    frame = V.read_frames(out, times=[1.0])[0][0]
    assert _corr(frame, V.read_frames(source, times=[3.0])[0][0]) > 0.95


def test_variable_frame_rate_timing_is_kept(tree, tmp_path):
    out = str(tmp_path / "tree.mp4")
    trim(tree, out, 10.0, 14.0)
    source = V.probe(tree)
    starts = source.frame_starts
    showing = starts[(starts < 14.0) & (np.append(starts[1:], np.inf) > 10.0)]   # frames on screen in 10–14 s
    trimmed = V.probe(out)
    assert trimmed.num_frames == len(showing) and np.diff(starts).std() > 0.05     # uneven spacing, kept
    np.testing.assert_allclose(trimmed.frame_starts, np.maximum(showing - 10.0, 0.0), atol=0.02)


def test_cli_trim_and_bad_ranges(bikes, tmp_path, capsys):
    out = str(tmp_path / "bikes.mp4")
    assert main(["trim", bikes, "--start", "2", "--end", "4", "--out", out]) == 0
    assert "2.00 s" in capsys.readouterr().out
    assert main(["trim", bikes, "--start", "20", "--out", out]) == 2
    assert "outside the video" in capsys.readouterr().err
    with pytest.raises(V.VideoError):
        trim(bikes, out, 3.0, 3.0)
