"""Checkpoints: weights in safetensors, everything needed to rebuild the model in JSON beside them.

``<name>.safetensors`` holds the state dict; ``<name>.json`` holds ``{"model": kind,
"config": {...}, "metrics": {...}, "command": "...", "data": {...}}``. A checkpoint file alone is
enough to rebuild its model; nothing is unpickled.
"""
from __future__ import annotations

import json
import os
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

REPO_CHECKPOINTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "checkpoints")
_BUILDERS: dict[str, Callable[[dict], torch.nn.Module]] = {}


def register(kind: str):
    """Decorator: ``builder(config dict) -> nn.Module`` for checkpoints of ``kind``."""
    def wrap(builder):
        _BUILDERS[kind] = builder
        return builder
    return wrap


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
    return path


def read_meta(path: str) -> dict:
    with open(os.path.splitext(path)[0] + ".json") as handle:
        return json.load(handle)


def load_checkpoint(path: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a model from its checkpoint; returns ``(model in eval mode, metadata)``."""
    from .models import relocalization, retrieval, tan2d, video_reloc  # noqa: F401  (they register builders)

    meta = read_meta(path)
    if meta["model"] not in _BUILDERS:
        raise ValueError(f"unknown model kind {meta['model']!r} in {path}")
    model = _BUILDERS[meta["model"]](meta["config"])
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
