"""Loading safety: bundled weights are checked against their SHA-256 manifest, and nothing in the
code can unpickle a file."""
import os
import re
import shutil

import pytest
import torch

from svmr import checkpoints as C
from svmr.features.efficientnet_lite import WEIGHTS_ENTRY, weights_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_bundled_file_is_listed_and_matches():
    entries = C.read_manifest()
    bundled = sorted(n for n in os.listdir(C.REPO_CHECKPOINTS) if n.endswith((".safetensors", ".json")))
    assert bundled and set(bundled) <= set(entries)
    for name in bundled:
        C.verify(os.path.join(C.REPO_CHECKPOINTS, name))
    C.verify(weights_path(), WEIGHTS_ENTRY)


@pytest.fixture
def bundled_copy(tmp_path, monkeypatch):
    """The checkpoints folder copied, with the module pointed at the copy."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(C.REPO_CHECKPOINTS, folder)
    monkeypatch.setattr(C, "REPO_CHECKPOINTS", str(folder))
    monkeypatch.setattr(C, "MANIFEST", str(folder / "SHA256SUMS"))
    return folder


def test_a_changed_bundled_checkpoint_is_refused(bundled_copy):
    path = bundled_copy / "stage2_none.safetensors"
    model, meta = C.load_checkpoint(str(path))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF                                  # one byte of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(C.ChecksumError, match="does not match its SHA-256"):
        C.load_checkpoint(str(path))


def test_an_unlisted_bundled_checkpoint_is_refused_until_saved_properly(bundled_copy):
    model, meta = C.load_checkpoint(str(bundled_copy / "stage2_none.safetensors"))
    stray = bundled_copy / "stray.safetensors"
    shutil.copyfile(bundled_copy / "stage2_none.safetensors", stray)
    shutil.copyfile(bundled_copy / "stage2_none.json", bundled_copy / "stray.json")
    with pytest.raises(C.ChecksumError, match="not listed"):
        C.load_checkpoint(str(stray))
    C.save_checkpoint(model, str(stray), meta["model"], meta["config"])     # records it
    again, _ = C.load_checkpoint(str(stray))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_no_code_path_can_unpickle():
    """torch.load only with weights_only=True, np.load only with allow_pickle=False, no pickle."""
    problems = []
    for folder in ("svmr", "demo", "benchmarks", "scripts"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                text = open(path).read()
                for call in re.findall(r"torch\.load\([^)]*\)", text):
                    if "weights_only=True" not in call:
                        problems.append(f"{path}: {call}")
                for call in re.findall(r"np\.load\([^)]*\)", text):
                    if "allow_pickle=False" not in call:
                        problems.append(f"{path}: {call}")
                if re.search(r"^\s*import pickle|pickle\.loads?\(", text, re.M):
                    problems.append(f"{path}: pickle")
    assert not problems, problems
