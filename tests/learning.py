"""What every trainer's test asserts: training learned (imported by the test modules that train)."""


def assert_learns(history: list[dict], fall: float | None = 0.95) -> None:
    """A training history (:func:`svmr.train.loop.fit`: ``loss_mean`` and ``weights_moved`` at each
    validation) shows learning: the weights moved from where they started, and the mean training
    loss of the last window is below ``fall`` × the first window's (``None``: the weights only).
    A zero learning rate, an optimizer that never steps, or a loss whose gradient does not lower
    it fails this."""
    windows = [entry for entry in history if "loss_mean" in entry]
    assert len(windows) >= 2, f"the loss is seen falling over two windows at least; history: {history}"
    assert windows[-1]["weights_moved"] > 0, "the weights never moved from their initial values"
    first, last = windows[0]["loss_mean"], windows[-1]["loss_mean"]
    assert fall is None or last < fall * first, f"the training loss did not fall: {first} → {last}"
