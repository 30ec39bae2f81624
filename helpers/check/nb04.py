"""Checks for notebook 04's exercises: one Adam step (``adam_update``), one AdamW step. Step by step
beside ``torch.optim`` in float64, where every typical slip shows far beyond rounding; the check
names the slip that matches (docs/exercises.md, "What each check probes")."""
from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

import torch

from ..exercises import Wrong, exercise, expect

__all__ = ["adam_update", "adamw_update"]

STEPS = 8
RTOL, ATOL = 1e-9, 1e-12
# two settings that differ in every argument, so that no constant written into the answer passes
CONFIGS = [dict(lr=0.1, beta1=0.8, beta2=0.99, eps=1e-3, weight_decay=0.5, shape=(6,)),
           dict(lr=0.03, beta1=0.6, beta2=0.95, eps=1e-2, weight_decay=0.2, shape=(2, 3))]
START = torch.tensor([1.0, -2.0, 0.5, 3.0, -0.25, 0.0], dtype=torch.float64)


def _gradients(shape=(6,), seed=4) -> list[torch.Tensor]:
    # large, small (comparable to eps), zero and sign-changing gradients: every slip shows
    gen = torch.Generator().manual_seed(seed)
    base = torch.tensor([1.0, -0.5, 2e-3, -1e-3, 3.0, 0.0], dtype=torch.float64)
    return [(base * (1 + 0.5 * torch.randn(6, generator=gen, dtype=torch.float64))).reshape(shape)
            for _ in range(STEPS)]


# --- the right step and each slip, recomputed from the same (p, g, m, v, t) --------------------

def _moments(g, m, v, c, b1=None, b2=None, square=True, one_minus=True):
    b1 = c["beta1"] if b1 is None else b1
    b2 = c["beta2"] if b2 is None else b2
    m1 = b1 * m + ((1 - b1) * g if one_minus else g)
    g2 = g * g if square else g
    return m1, b2 * v + ((1 - b2) * g2 if one_minus else g2)


def _step(p, m, v, t, c, *, correct_m=True, correct_v=True, eps_place="outside", sign=-1.0, t_shift=0,
          lr=None, eps=None, swap=False, root=True, power_outside=False, unrooted_correction=False):
    lr = c["lr"] if lr is None else lr
    eps = c["eps"] if eps is None else eps
    b1, b2, tt = c["beta1"], c["beta2"], t + t_shift
    if swap:
        b1, b2 = b2, b1
    c1, c2 = ((1 - b1) ** tt, (1 - b2) ** tt) if power_outside else (1 - b1 ** tt, 1 - b2 ** tt)
    m_hat = m / c1 if correct_m else m
    v_hat = v / c2 if correct_v else v
    if unrooted_correction:  # sqrt(v) / (1 - beta2**t): the correction outside the root
        return p + sign * lr * m_hat / (v.sqrt() / c2 + eps)
    if eps_place == "outside":
        denom = (v_hat.sqrt() if root else v_hat) + eps
    elif eps_place == "inside":
        denom = (v_hat + eps).sqrt()
    else:  # "before correction": (sqrt(v) + eps) / sqrt(1 - beta2^t)
        denom = (v.sqrt() + eps) / (1 - b2 ** tt) ** 0.5
    return p + sign * lr * m_hat / denom


ADAM_SLIPS = {
    "no_correction": dict(correct_m=False, correct_v=False),
    "no_correction_m": dict(correct_m=False),
    "no_correction_v": dict(correct_v=False),
    "swapped_corrections": dict(swap=True),
    "power_outside": dict(power_outside=True),
    "unrooted_correction": dict(unrooted_correction=True),
    "eps_inside": dict(eps_place="inside"),
    "eps_before": dict(eps_place="before"),
    "no_sqrt": dict(root=False),
    "uphill": dict(sign=1.0),
    "t_plus_one": dict(t_shift=1),
    "lr_default": dict(lr=1e-3),
    "eps_default": dict(eps=1e-8),
    "eps_zero": dict(eps=0.0),
}


def _adam_variants(p, g, m, v, t, c) -> dict[str, tuple]:
    m1, v1 = _moments(g, m, v, c)
    out = {"right": (_step(p, m1, v1, t, c), m1, v1)}
    out.update({name: (_step(p, m1, v1, t, c, **kw), m1, v1) for name, kw in ADAM_SLIPS.items()})
    return out


def _moment_slips(g, m, v, c) -> dict[str, tuple]:
    b1, b2 = c["beta1"], c["beta2"]
    right_m, right_v = _moments(g, m, v, c)
    return {"m_beta2": _moments(g, m, v, c, b1=b2), "v_beta1": _moments(g, m, v, c, b2=b1),
            "m_defaults": _moments(g, m, v, c, b1=0.9), "v_defaults": _moments(g, m, v, c, b2=0.999),
            "v_not_squared": _moments(g, m, v, c, square=False), "m_no_one_minus": (b1 * m + g, None),
            "v_no_one_minus": (None, b2 * v + g * g)}


def _adamw_variants(p, g, m, v, t, c) -> dict[str, tuple]:
    m1, v1 = _moments(g, m, v, c)
    lr, wd = c["lr"], c["weight_decay"]
    decayed = p * (1 - lr * wd)
    out = {"right": (_step(decayed, m1, v1, t, c), m1, v1),
           "no_decay": (_step(p, m1, v1, t, c), m1, v1),
           "after_step": (_step(p, m1, v1, t, c) * (1 - lr * wd), m1, v1),
           "decay_without_lr": (_step(p * (1 - wd), m1, v1, t, c), m1, v1),
           "decay_default": (_step(p * (1 - lr * 1e-2), m1, v1, t, c), m1, v1)}
    mc, vc = _moments(g + wd * p, m, v, c)                 # Adam's L2: the decay goes through m and v
    out["coupled"] = (_step(p, mc, vc, t, c), mc, vc)
    out["coupled_and_decoupled"] = (_step(decayed, mc, vc, t, c), mc, vc)
    # the decay right, but a slip in the Adam part
    out.update({name: (_step(decayed, m1, v1, t, c, **kw), m1, v1) for name, kw in ADAM_SLIPS.items()})
    return out


MESSAGES = {
    "m_beta2": "your first moment m uses beta2: m = beta1 * m + (1 - beta1) * grad (beta1 for m, beta2 for v)",
    "v_beta1": "your second moment v uses beta1: v = beta2 * v + (1 - beta2) * grad**2 (beta2 for v)",
    "m_defaults": "your m uses 0.9, not the beta1 you were given: use the argument (the check passes beta1={beta1})",
    "v_defaults": "your v uses 0.999, not the beta2 you were given: use the argument (the check passes beta2={beta2})",
    "v_not_squared": "your v averages the gradient, not its square: v = beta2 * v + (1 - beta2) * grad * grad",
    "m_no_one_minus": "your m adds the whole gradient: the running mean is m = beta1 * m + (1 - beta1) * grad",
    "v_no_one_minus": "your v adds the whole squared gradient: the running mean is "
                      "v = beta2 * v + (1 - beta2) * grad**2",
    "returned_hats": "you returned the bias-corrected m_hat and v_hat as the new moments: return the running "
                     "averages m and v themselves (the next step builds on them); the hats serve only this "
                     "step's update",
    "no_correction": "the bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t) before "
                     "the update (without it the first steps are too long or too short)",
    "no_correction_m": "m is not bias-corrected: m_hat = m / (1 - beta1**t)",
    "no_correction_v": "v is not bias-corrected: v_hat = v / (1 - beta2**t)",
    "swapped_corrections": "the corrections are swapped: m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)",
    "power_outside": "your corrections divide by (1 - beta)**t: the correction is 1 - beta**t, the power on beta alone "
                     "(1 - beta1**t, 1 - beta2**t)",
    "unrooted_correction": "you divide sqrt(v) by (1 - beta2**t): the correction belongs inside the root, "
                           "sqrt(v / (1 - beta2**t)) = sqrt(v) / sqrt(1 - beta2**t)",
    "eps_inside": "epsilon is inside the square root: torch divides by sqrt(v_hat) + eps, not sqrt(v_hat + eps)",
    "eps_before": "epsilon is added before the bias correction ((sqrt(v) + eps) / sqrt(1 - beta2**t)): torch "
                  "adds it after, sqrt(v_hat) + eps",
    "no_sqrt": "you divide by v_hat + eps: the denominator is the square root, sqrt(v_hat) + eps",
    "uphill": "the step goes uphill: subtract, param - lr * m_hat / (sqrt(v_hat) + eps)",
    "t_plus_one": "the bias correction uses t + 1: t is already the step number (1 on the first step), use it as is",
    "lr_default": "your step uses lr 1e-3, not the lr you were given: use the argument (the check passes lr={lr})",
    "eps_default": "your epsilon is 1e-8, not the eps you were given: use the argument (the check passes eps={eps})",
    "eps_zero": "your update has no epsilon: the denominator is sqrt(v_hat) + eps (the check passes eps={eps})",
    "no_decay": "no weight decay: AdamW multiplies the parameter by (1 - lr * weight_decay) before the Adam step",
    "after_step": "the decay is applied after the Adam step: shrink the OLD parameter, param * (1 - lr * "
                  "weight_decay), then take the step (torch.optim.AdamW's order)",
    "decay_without_lr": "the decay factor is (1 - weight_decay): AdamW's is (1 - lr * weight_decay)",
    "decay_default": "your decay uses weight_decay 0.01 (AdamW's default), not the weight_decay you were given "
                     "(the check passes weight_decay={weight_decay})",
    "coupled": "that is Adam's L2 (coupled) decay: you added weight_decay * param to the gradient, so it went through "
               "m, v and the division by sqrt(v_hat); AdamW leaves the gradient alone and multiplies the parameter "
               "by (1 - lr * weight_decay)",
    "coupled_and_decoupled": "the decay is applied twice: you shrank the parameter (right) AND added weight_decay * "
                             "param to the gradient (Adam's L2); AdamW leaves the gradient alone",
}

# torch.optim's own Adam, in every form an answer could reach it: refused inside the learner's function
_SPIED = [("torch.optim.Optimizer.__init__", torch.optim.Optimizer, "__init__")]
for _modname in ("adam", "adamw", "_functional"):
    _mod = importlib.import_module(f"torch.optim.{_modname}")
    for _fn in ("adam", "adamw", "_single_tensor_adam", "_multi_tensor_adam", "_fused_adam"):
        if _mod is not None and callable(getattr(_mod, _fn, None)):
            _SPIED.append((f"torch.optim.{_modname}.{_fn}", _mod, _fn))
for _fn in ("_fused_adam_", "_fused_adamw_"):
    if hasattr(torch, _fn):
        _SPIED.append((f"torch.{_fn}", torch, _fn))


@contextlib.contextmanager
def _spy_on_torch_optim() -> Iterator[list[str]]:
    """Record every use of torch.optim's Adam (or any optimizer's construction) while the answer runs."""
    used: list[str] = []
    saved = [(owner, attr, getattr(owner, attr)) for _, owner, attr in _SPIED]

    def spy(name, original):
        def wrapper(*args, **kwargs):
            used.append(name)
            return original(*args, **kwargs)
        return wrapper

    try:
        for (name, owner, attr), (_, _, original) in zip(_SPIED, saved):
            setattr(owner, attr, spy(name, original))
        yield used
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def _same(a, b) -> bool:
    return a is not None and b is not None and a.shape == b.shape and torch.allclose(
        a, b, rtol=RTOL, atol=ATOL, equal_nan=True)


def _constant_beta(got, old, new) -> float | None:
    """The one beta with got = beta * old + (1 - beta) * new in every coordinate, if there is one."""
    moving = (old - new).abs() > 1e-12
    if not moving.any():
        return None
    betas = (got - new)[moving] / (old - new)[moving]
    return float(betas[0]) if torch.allclose(betas, betas[0].expand_as(betas), rtol=1e-9, atol=1e-12) else None


def _gap(a, b) -> str:
    return f"{(a - b).abs().max().item():.3e} (tolerance {RTOL:g} relative + {ATOL:g})"


def _diagnose(where, c, got, want, p, g, m, v, t, variants) -> Wrong:
    got_p, got_m, got_v = got
    want_p, want_m, want_v = want
    fmt = {k: c[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay")}
    if not _same(got_m, want_m) or not _same(got_v, want_v):
        right_m, right_v = _moments(g, m, v, c)
        if _same(got_m, right_m / (1 - c["beta1"] ** t)) and _same(got_v, right_v / (1 - c["beta2"] ** t)):
            return Wrong(where + MESSAGES["returned_hats"])
        for slip in ("coupled_and_decoupled", "coupled"):
            if slip in variants and _same(got_m, variants[slip][1]) and _same(got_p, variants[slip][0]):
                return Wrong(where + MESSAGES[slip])
        for slip, (sm, sv) in _moment_slips(g, m, v, c).items():
            if (slip.startswith("m") and _same(got_m, sm)) or (slip.startswith("v") and _same(got_v, sv)):
                return Wrong(where + MESSAGES[slip].format(**fmt))
        for name, got_x, old, new in (("m", got_m, m, g), ("v", got_v, v, g * g)):
            beta = _constant_beta(got_x, old, new)
            if beta is not None and abs(beta - c[f"beta{1 if name == 'm' else 2}"]) > 1e-9:
                which = "beta1" if name == "m" else "beta2"
                return Wrong(f"{where}your {name} uses beta {beta:.6g}, not the {which} you were given (the check "
                             f"passes {which}={c[which]}): use the argument")
        if "coupled" in variants and _same(got_m, variants["coupled"][1]):
            return Wrong(where + MESSAGES["coupled"])
        if not _same(got_m, want_m):
            return Wrong(f"{where}your m (exp_avg) differs from torch.optim's by {_gap(got_m, want_m)}; "
                         "m = beta1 * m + (1 - beta1) * grad")
        return Wrong(f"{where}your v (exp_avg_sq) differs from torch.optim's by {_gap(got_v, want_v)}; "
                     "v = beta2 * v + (1 - beta2) * grad**2")
    for slip, (sp, _, _) in variants.items():
        if slip != "right" and _same(got_p, sp):
            return Wrong(where + MESSAGES[slip].format(**fmt))
    if not torch.isfinite(got_p).all():
        return Wrong(f"{where}your parameter holds nan or inf. If you divide by 1 - beta**(t - 1): that is "
                     "1 - beta**0 = 0 on the first step; t is already 1 there, use it as is")
    step, want_step = got_p - p, want_p - p
    moving = want_step.abs() > 1e-9
    if moving.any():
        ratio = step[moving] / want_step[moving]
        if torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-6) and not torch.allclose(ratio[0], torch.ones(
                (), dtype=ratio.dtype)):
            return Wrong(f"{where}your step has the right direction but is {ratio[0].item():.6g}× torch's length in "
                         f"every coordinate: use the learning rate you were given (the check passes lr={c['lr']})")
    return Wrong(f"{where}m and v match torch's, but your parameter differs from torch's by {_gap(got_p, want_p)}: "
                 "check the update line, param - lr * m_hat / (sqrt(v_hat) + eps)")


def _run(answer: Callable, make_torch: Callable, variants: Callable, decay: bool, name: str) -> str:
    for k, c in enumerate(CONFIGS):
        extra = {key: c[key] for key in ("lr", "beta1", "beta2", "eps")}
        if decay:
            extra["weight_decay"] = c["weight_decay"]
        shape = c["shape"]
        grads = _gradients(shape, seed=4 + k)
        start = (START * (1 if k == 0 else 0.7)).reshape(shape)
        p_torch = start.clone().requires_grad_(True)
        opt = make_torch([p_torch], c)
        zeros = torch.zeros(shape, dtype=torch.float64)
        p, m, v = start.clone(), zeros.clone(), zeros.clone()
        setting = ", ".join(f"{key}={val}" for key, val in extra.items()) + f", parameter shape {shape}"
        for t, g in enumerate(grads, start=1):
            p_torch.grad = g.clone()
            opt.step()
            state = opt.state[p_torch]
            want = (p_torch.detach().clone(), state["exp_avg"].clone(), state["exp_avg_sq"].clone())
            with _spy_on_torch_optim() as used:
                result = answer(p.clone(), g.clone(), m.clone(), v.clone(), t, **extra)
            if used:
                raise Wrong(f"your function uses torch.optim ({used[0]}): this exercise writes the update "
                            "itself, from the equations, so the check refuses torch.optim inside the answer "
                            "(the notebook compares with it after the exercise)")
            expect(isinstance(result, (tuple, list)) and len(result) == 3,
                   f"return (param, m, v), three tensors; your function returned {type(result).__name__}")
            expect(all(isinstance(x, torch.Tensor) and x.shape == p.shape for x in result),
                   f"return (param, m, v) as tensors of the parameter's shape {tuple(shape)}; got "
                   + ", ".join(type(x).__name__ + (str(tuple(x.shape)) if isinstance(x, torch.Tensor) else "")
                               for x in result))
            expect(all(x.dtype == torch.float64 for x in result),
                   f"your function returns {', '.join(str(x.dtype) for x in result)}: the check passes float64 "
                   "tensors; compute in their own dtype (no .float())")
            got = tuple(x.detach() for x in result)
            if all(_same(a, b) for a, b in zip(got, want)):
                p, m, v = got
                continue
            raise _diagnose(f"with {setting}, step {t}: ", c, got, want, p, g, m, v, t, variants(p, g, m, v, t, c))
    return f"{STEPS} steps equal to {name} under two settings that differ in every argument, to rounding"


def _adam(params, c):
    return torch.optim.Adam(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])


def _adamw(params, c):
    return torch.optim.AdamW(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["eps"],
                             weight_decay=c["weight_decay"])


@exercise
def adam_update(answer) -> str:
    """``answer(param, grad, m, v, t, lr, beta1, beta2, eps)`` must return Adam's ``(param, m, v)`` after step ``t``."""
    proof = _run(answer, _adam, _adam_variants, False, "torch.optim.Adam")
    return proof + ": moments, bias correction and epsilon in torch's places"


@exercise
def adamw_update(answer) -> str:
    """``answer(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay)`` must return AdamW's ``(param, m, v)``."""
    proof = _run(answer, _adamw, _adamw_variants, True, "torch.optim.AdamW")
    return proof + ": the decay shrinks the parameter itself, decoupled from the gradient"
