"""Which device the networks run on: ``--device`` of the command line, the app's ``SVMR_DEVICE``."""
from __future__ import annotations

import torch

#: what ``--device`` accepts
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (or None): the GPU when torch sees one, else the CPU; ``cpu``; ``cuda`` or
    ``cuda:N``: that GPU.

    Raises:
        ValueError: a GPU was asked for and torch sees none (one sentence, for the user).
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: this machine has no CUDA GPU that torch can use "
                             f"(torch {torch.__version__}); use --device cpu or auto.")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                             f"numbered from 0.")
        return device
    raise ValueError(f"--device {name}: choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N).")


def network_device(network: torch.nn.Module) -> torch.device:
    """Where a network runs: its first parameter's (or buffer's) device; the CPU for one with neither
    (e.g. the sliding-window baseline)."""
    tensor = next(network.parameters(), None)
    if tensor is None:
        tensor = next(network.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def place(network: torch.nn.Module, device: str | torch.device) -> torch.nn.Module:
    """``network`` moved to ``device``, or left untouched when it is there already (``.to()`` on an
    LSTM re-registers its flat weights even where they are: a move with nothing to move is skipped)."""
    device = torch.device(device)
    return network if network_device(network) == device else network.to(device)
