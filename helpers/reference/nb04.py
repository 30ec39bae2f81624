"""Notebook 04's reference answer to Exercise 1 (``adam_step``), imported by the student copy. The
teacher's notebook writes it out after Exercise 1; the student copy imports it, so it cannot be
copied from the next cell and the lesson runs for one who skips the exercise."""
from __future__ import annotations

from typing import Any


def adam_step(param: Any, grad: Any, m: Any, v: Any, t: int, lr: float = 1e-3, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8) -> tuple[Any, Any, Any]:
    """Return (param, m, v) after Adam's step t, from the equations (notebook 04; floats or tensors)."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat ** 0.5 + eps), m, v
