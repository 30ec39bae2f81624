"""Checks for notebook 04's exercises: one Adam step with bias correction, and one AdamW step.

Each check runs the learner's update step for step beside ``torch.optim.Adam`` / ``torch.optim.AdamW``
on one float64 parameter vector, with a large epsilon, large learning rate and decay and
non-default betas, so that every typical slip (bias correction left out, epsilon in the wrong
place, a beta on the wrong moment, the decay coupled or applied after the step) changes the result
far beyond rounding. At the first step where the learner's ``m``, ``v`` or parameter differs from
torch's, the check recomputes that step with each slip and names the one that matches.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..exercises import Wrong, exercise, expect

__all__ = ["adam_update", "adamw_update"]

LR, BETA1, BETA2, EPS, WD = 0.1, 0.8, 0.99, 1e-3, 0.5
STEPS = 8
START = torch.tensor([1.0, -2.0, 0.5, 3.0, -0.25, 0.0], dtype=torch.float64)


def _gradients() -> list[torch.Tensor]:
    # large, small (comparable to eps), zero and sign-changing gradients: every slip shows
    gen = torch.Generator().manual_seed(4)
    base = torch.tensor([1.0, -0.5, 2e-3, -1e-3, 3.0, 0.0], dtype=torch.float64)
    return [base * (1 + 0.5 * torch.randn(6, generator=gen, dtype=torch.float64)) for _ in range(STEPS)]


# One step of each variant: (p, g, m, v, t) -> (p, m, v). ``decay`` is the AdamW weight decay.
def _moments(g, m, v, b1=BETA1, b2=BETA2, square=True):
    return b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * (g * g if square else g)


def _step(p, m, v, t, *, correct_m=True, correct_v=True, eps_place="outside", sign=-1.0, t_shift=0):
    tt = t + t_shift
    m_hat = m / (1 - BETA1 ** tt) if correct_m else m
    v_hat = v / (1 - BETA2 ** tt) if correct_v else v
    if eps_place == "outside":
        denom = v_hat.sqrt() + EPS
    elif eps_place == "inside":
        denom = (v_hat + EPS).sqrt()
    else:  # "before correction": (sqrt(v) + eps) / sqrt(1 - beta2^t)
        denom = (v.sqrt() + EPS) / (1 - BETA2 ** tt) ** 0.5
    return p + sign * LR * m_hat / denom


ADAM_SLIPS = {
    "no_correction": dict(correct_m=False, correct_v=False),
    "no_correction_m": dict(correct_m=False),
    "no_correction_v": dict(correct_v=False),
    "eps_inside": dict(eps_place="inside"),
    "eps_before": dict(eps_place="before"),
    "uphill": dict(sign=1.0),
    "t_plus_one": dict(t_shift=1),
}


def _adam_variants(p, g, m, v, t) -> dict[str, tuple]:
    m1, v1 = _moments(g, m, v)
    out = {"right": (_step(p, m1, v1, t), m1, v1)}
    out.update({name: (_step(p, m1, v1, t, **kwargs), m1, v1) for name, kwargs in ADAM_SLIPS.items()})
    return out


def _moment_slips(g, m, v) -> dict[str, tuple]:
    return {"m_beta2": _moments(g, m, v, b1=BETA2), "v_beta1": _moments(g, m, v, b2=BETA1),
            "m_defaults": _moments(g, m, v, b1=0.9), "v_defaults": _moments(g, m, v, b2=0.999),
            "v_not_squared": _moments(g, m, v, square=False), "m_no_one_minus": (BETA1 * m + g, None)}


def _adamw_variants(p, g, m, v, t) -> dict[str, tuple]:
    m1, v1 = _moments(g, m, v)
    decayed = p * (1 - LR * WD)
    out = {"right": (_step(decayed, m1, v1, t), m1, v1),
           "no_decay": (_step(p, m1, v1, t), m1, v1),
           "after_step": (_step(p, m1, v1, t) * (1 - LR * WD), m1, v1),
           "decay_without_lr": (_step(p * (1 - WD), m1, v1, t), m1, v1)}
    mc, vc = _moments(g + WD * p, m, v)                 # Adam's L2: the decay goes through m and v
    out["coupled"] = (_step(p, mc, vc, t), mc, vc)
    # the decay right, but a slip in the Adam part
    out.update({name: (_step(decayed, m1, v1, t, **kwargs), m1, v1) for name, kwargs in ADAM_SLIPS.items()})
    return out


MESSAGES = {
    "m_beta2": "your first moment m uses beta2: m = beta1 * m + (1 - beta1) * grad (beta1 for m, beta2 for v)",
    "v_beta1": "your second moment v uses beta1: v = beta2 * v + (1 - beta2) * grad**2 (beta2 for v)",
    "m_defaults": "your m uses 0.9, not the beta1 you were given: use the argument (the check passes beta1=0.8)",
    "v_defaults": "your v uses 0.999, not the beta2 you were given: use the argument (the check passes beta2=0.99)",
    "v_not_squared": "your v averages the gradient, not its square: v = beta2 * v + (1 - beta2) * grad * grad",
    "m_no_one_minus": "your m adds the whole gradient: the running mean is m = beta1 * m + (1 - beta1) * grad",
    "no_correction": "the bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t) before "
                     "the update (without it the first steps are too long or too short)",
    "no_correction_m": "m is not bias-corrected: m_hat = m / (1 - beta1**t)",
    "no_correction_v": "v is not bias-corrected: v_hat = v / (1 - beta2**t)",
    "eps_inside": "epsilon is inside the square root: torch divides by sqrt(v_hat) + eps, not sqrt(v_hat + eps)",
    "eps_before": "epsilon is added before the bias correction ((sqrt(v) + eps) / sqrt(1 - beta2**t)): torch "
                  "adds it after, sqrt(v_hat) + eps",
    "uphill": "the step goes uphill: subtract, param - lr * m_hat / (sqrt(v_hat) + eps)",
    "t_plus_one": "the bias correction uses t + 1: t is already the step number (1 on the first step), use it as is",
    "no_decay": "no weight decay: AdamW multiplies the parameter by (1 - lr * weight_decay) before the Adam step",
    "after_step": "the decay is applied after the Adam step: shrink the OLD parameter, param * (1 - lr * "
                  "weight_decay), then take the step (torch.optim.AdamW's order)",
    "decay_without_lr": "the decay factor is (1 - weight_decay): AdamW's is (1 - lr * weight_decay)",
    "coupled": "that is Adam's L2 (coupled) decay: you added weight_decay * param to the gradient, so it went through "
               "m, v and the division by sqrt(v_hat); AdamW leaves the gradient alone and multiplies the parameter "
               "by (1 - lr * weight_decay)",
}


def _same(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and torch.allclose(a, b, rtol=1e-9, atol=1e-12)


def _run(answer: Callable, torch_optimizer: Callable, variants: Callable, extra: dict, name: str) -> str:
    grads = _gradients()
    p_torch = START.clone().requires_grad_(True)
    opt = torch_optimizer([p_torch])
    p, m, v = START.clone(), torch.zeros(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        p_torch.grad = g.clone()
        opt.step()
        state = opt.state[p_torch]
        want_p, want_m, want_v = p_torch.detach(), state["exp_avg"], state["exp_avg_sq"]
        result = answer(p.clone(), g.clone(), m.clone(), v.clone(), t, **extra)
        expect(isinstance(result, tuple) and len(result) == 3,
               f"return (param, m, v), three tensors; your function returned {type(result).__name__}")
        expect(all(isinstance(x, torch.Tensor) and x.shape == START.shape for x in result),
               f"return (param, m, v) as tensors of the parameter's shape {tuple(START.shape)}; got "
               + ", ".join(type(x).__name__ + (str(tuple(x.shape)) if isinstance(x, torch.Tensor) else "")
                           for x in result))
        got_p, got_m, got_v = (x.detach().to(torch.float64) for x in result)
        if _same(got_p, want_p) and _same(got_m, want_m) and _same(got_v, want_v):
            p, m, v = got_p, got_m, got_v
            continue
        where = f"step {t}: "
        if not _same(got_m, want_m) or not _same(got_v, want_v):
            for slip, (sm, sv) in _moment_slips(g, m, v).items():
                if (slip.startswith("m") and _same(got_m, sm)) or (slip.startswith("v") and _same(got_v, sv)):
                    raise Wrong(where + MESSAGES[slip])
            candidates = variants(p, g, m, v, t)
            if _same(got_m, candidates.get("coupled", (None, None))[1]):
                raise Wrong(where + MESSAGES["coupled"])
            moment = "m (exp_avg)" if not _same(got_m, want_m) else "v (exp_avg_sq)"
            raise Wrong(f"{where}your {moment} differs from torch.optim's by "
                        f"{(got_m - want_m if moment[0] == 'm' else got_v - want_v).abs().max().item():.2e}; "
                        "m = beta1 * m + (1 - beta1) * grad, v = beta2 * v + (1 - beta2) * grad**2")
        for slip, (sp, _, _) in variants(p, g, m, v, t).items():
            if slip != "right" and _same(got_p, sp):
                raise Wrong(where + MESSAGES[slip])
        raise Wrong(f"{where}m and v match torch's, but your parameter differs from {name}'s by "
                    f"{(got_p - want_p).abs().max().item():.2e}: check the update line, "
                    "param - lr * m_hat / (sqrt(v_hat) + eps)")
    return f"{STEPS} steps equal to {name} (lr {LR}, betas ({BETA1}, {BETA2}), eps {EPS}"


@exercise
def adam_update(answer) -> str:
    """``answer(param, grad, m, v, t, lr, beta1, beta2, eps)`` must return Adam's ``(param, m, v)`` after step ``t``."""
    proof = _run(answer, lambda ps: torch.optim.Adam(ps, lr=LR, betas=(BETA1, BETA2), eps=EPS), _adam_variants,
                 dict(lr=LR, beta1=BETA1, beta2=BETA2, eps=EPS), "torch.optim.Adam")
    return proof + "), to rounding: moments, bias correction and epsilon in torch's places"


@exercise
def adamw_update(answer) -> str:
    """``answer(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay)`` must return AdamW's ``(param, m, v)``."""
    proof = _run(answer, lambda ps: torch.optim.AdamW(ps, lr=LR, betas=(BETA1, BETA2), eps=EPS, weight_decay=WD),
                 _adamw_variants, dict(lr=LR, beta1=BETA1, beta2=BETA2, eps=EPS, weight_decay=WD),
                 "torch.optim.AdamW")
    return proof + f", weight decay {WD}): the decay shrinks the parameter itself, decoupled from the gradient"
