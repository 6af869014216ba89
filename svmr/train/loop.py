"""The training loop shared by all trainers: Adam with cosine decay, periodic validation, and
the best weights (by one validation metric) restored at the end."""
from __future__ import annotations

import time
from typing import Callable

import torch


def fit(model: torch.nn.Module, step: Callable[[], dict], validate: Callable[[], dict], select: str,
        steps: int, lr: float, eval_every: int, name: str, log=print,
        lr_scale: dict[str, float] | None = None, validate_first: bool = False) -> tuple[list[dict], float]:
    """Train ``model`` for ``steps`` optimizer steps.

    Args:
        step: computes one batch's losses (``{"loss": tensor, ...}``) in training mode.
        validate: returns validation metrics (called in eval mode under ``no_grad``).
        select: the metric whose best value picks the weights kept.
        lr_scale: learning-rate multipliers by parameter-name prefix (e.g. ``{"head.": 10}``).
        validate_first: also validate the initial weights (history step 0; recorded, never kept).
    Returns:
        ``(history, seconds)``; ``model`` holds the best weights.
    """
    groups: dict[float, list] = {}
    for param_name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        scale = next((v for k, v in (lr_scale or {}).items() if param_name.startswith(k)), 1.0)
        groups.setdefault(scale, []).append(parameter)
    optimizer = torch.optim.Adam([{"params": p, "lr": lr * s} for s, p in groups.items()], lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    best, best_state, history = float("-inf"), None, []
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
        if index % eval_every == 0 or index == steps:
            model.eval()
            with torch.no_grad():
                metrics = validate()
            losses = {k: round(float(v.detach()), 4) for k, v in losses.items()}
            history.append({"step": index, **losses, **metrics})
            log(f"[{name}] step {index}/{steps} " + " ".join(f"{k} {v}" for k, v in losses.items())
                + f" | val {select} {metrics[select]:.4f} ({time.time() - started:.0f} s)")
            if metrics[select] > best:
                best = metrics[select]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return history, time.time() - started
