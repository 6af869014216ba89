"""The training loop shared by all trainers: Adam with cosine decay, periodic validation, and
the best weights (by one validation metric) restored at the end. Each validation's history entry
also says whether training is working: the mean training loss since the previous entry
(``loss_mean``) and how far the weights have moved from where they started (``weights_moved``)."""
from __future__ import annotations

import time
from typing import Callable

import torch


def fit(model: torch.nn.Module, step: Callable[[], dict], validate: Callable[[], dict], select: str,
        steps: int, lr: float, eval_every: int, name: str, log=print,
        lr_scale: dict[str, float] | None = None, validate_first: bool = False) -> tuple[list[dict], float]:
    """Train ``model`` for ``steps`` optimizer steps, where its parameters are (the trainer puts the
    model on its device, and ``step`` its batches: :func:`to_device`).

    Args:
        step: computes one batch's losses (``{"loss": tensor, ...}``) in training mode.
        validate: returns validation metrics (called in eval mode under ``no_grad``).
        select: the metric whose best value picks the weights kept.
        lr_scale: learning-rate multipliers by parameter-name prefix (e.g. ``{"head.": 10}``).
        validate_first: also validate the initial weights (history step 0; recorded, never kept).
    Returns:
        ``(history, seconds)``; ``model`` holds the best weights. Each entry after training steps
        holds the last batch's losses, ``loss_mean`` (the mean ``loss`` of the steps since the
        previous entry) and ``weights_moved`` (:func:`weights_moved` from the initial weights).
    """
    groups: dict[float, list] = {}
    for param_name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        scale = next((v for k, v in (lr_scale or {}).items() if param_name.startswith(k)), 1.0)
        groups.setdefault(scale, []).append(parameter)
    optimizer = torch.optim.Adam([{"params": p, "lr": lr * s} for s, p in groups.items()], lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    initial = trainable_copy(model)
    best, best_state, history, window = float("-inf"), None, [], []
    if validate_first:
        model.eval()
        with torch.no_grad():
            metrics = validate()
        history.append({"step": 0, **metrics})
        log(f"[{name}] step 0 (initial weights) | val {select} {metrics[select]:.4f}")
    started = time.time()
    for index in range(1, steps + 1):
        model.train()
        losses = step()
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        scheduler.step()
        window.append(losses["loss"].detach())          # summed at validation: no sync per step
        if index % eval_every == 0 or index == steps:
            model.eval()
            with torch.no_grad():
                metrics = validate()
            losses = {k: round(float(v.detach()), 4) for k, v in losses.items()}
            history.append({"step": index, **losses, "loss_mean": round(float(torch.stack(window).mean()), 4),
                            "weights_moved": weights_moved(initial, trainable_copy(model)), **metrics})
            window = []
            log(f"[{name}] step {index}/{steps} " + " ".join(f"{k} {v}" for k, v in losses.items())
                + f" | val {select} {metrics[select]:.4f} ({time.time() - started:.0f} s)")
            if metrics[select] > best:
                best = metrics[select]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return history, time.time() - started


def to_device(value, device: torch.device):
    """``value`` with every tensor in it (also inside lists, tuples and dicts) moved to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(item, device) for item in value)
    if isinstance(value, dict):
        return {key: to_device(item, device) for key, item in value.items()}
    return value


def trainable_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the parameters the optimizer updates."""
    return {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}


def weights_moved(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    """``‖after − before‖ / ‖before‖`` over all the given parameters (0: nothing moved)."""
    change = sum(float((after[k] - v).float().pow(2).sum()) for k, v in before.items())
    size = sum(float(v.float().pow(2).sum()) for v in before.values())
    return float(f"{(change / max(size, 1e-12)) ** 0.5:.4g}")
