"""The command line: feature extraction, annotation reorganization and clear errors."""
import json
import subprocess
import sys

import numpy as np

from svmr.cli import main
from svmr.features import FeatureSequence


def test_extract_command_prints_throughput_and_writes_features(tmp_path, bikes, capsys):
    out = tmp_path / "f.npz"
    assert main(["extract", bikes, "--start", "1", "--end", "3", "--size", "112", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["features"] == [1280, 8] and report["frames_per_s"] > 0
    assert FeatureSequence.load(str(out)).features.shape == (1280, 8)


def test_bad_video_exits_with_a_message(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_text("nope")
    result = subprocess.run([sys.executable, "-m", "svmr", "extract", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "not a readable video" in result.stderr and "Traceback" not in result.stderr


def test_reorganize_annotation_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = {}
    for i in range(30):
        label = f"class{i % 10}"
        data[f"v{i}"] = {"duration_second": 60.0, "annotations": [
            {"segment": [float(s), float(s) + 5], "label": label} for s in sorted(rng.choice(10, 2, replace=False) * 5)]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    assert main(["build-benchmark", "--from-annotations", str(path), "--out", str(tmp_path / "b")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["v1"] == info["v2"] == 15
    assert (tmp_path / "b" / "manifest.json").exists()


def test_runs_from_a_folder_that_holds_a_clone_named_svmr(tmp_path):
    """`python -m svmr` beside a checkout folder called svmr finds the installed package, not the
    folder (scripts/setup.sh installs svmr as a path entry)."""
    import os

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.symlink(repo, tmp_path / "svmr")
    done = subprocess.run([sys.executable, "-m", "svmr", "search", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--gallery" in done.stdout and "--model" in done.stdout
