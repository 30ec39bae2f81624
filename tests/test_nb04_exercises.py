"""Mutation tests of notebook 04's exercise checks: one Adam step and one AdamW step against
torch.optim. Each plausible wrong answer is named by its own message; valid alternatives pass."""
from __future__ import annotations

import pytest
import torch
from mutation import Answers

import helpers.check


def make_adam(*, moments="right", correct_m=True, correct_v=True, eps_place="outside", sign=-1.0, t_shift=0,
              lr_fixed=None, eps_fixed=None, swap=False, root=True, return_hats=False):
    """Return an Adam step (param, grad, m, v, t, lr, beta1, beta2, eps) -> (param, m, v) with one slip."""
    def adam(param, grad, m, v, t, lr, beta1, beta2, eps):
        lr = lr if lr_fixed is None else lr_fixed
        eps = eps if eps_fixed is None else eps_fixed
        b1, b2 = {"m_beta2": (beta2, beta2), "v_beta1": (beta1, beta1), "defaults": (0.9, 0.999),
                  "written_in": (0.8, 0.99)}.get(moments, (beta1, beta2))
        m = b1 * m + (grad if moments == "m_no_one_minus" else (1 - b1) * grad)
        v = b2 * v + (1 - b2) * (grad if moments == "v_not_squared" else grad * grad)
        c1, c2 = (beta2, beta1) if swap else (beta1, beta2)
        tt = t + t_shift
        m_hat = m / (1 - c1 ** tt) if correct_m else m
        v_hat = v / (1 - c2 ** tt) if correct_v else v
        if eps_place == "inside":
            denom = torch.sqrt(v_hat + eps)
        elif eps_place == "before":
            denom = (v.sqrt() + eps) / (1 - beta2 ** tt) ** 0.5
        else:
            denom = (v_hat.sqrt() if root else v_hat) + eps
        new = param + sign * lr * m_hat / denom
        return (new, m_hat, v_hat) if return_hats else (new, m, v)
    return adam


def make_adamw(decay="right", **adam_slips):
    """Return an AdamW step (..., weight_decay) -> (param, m, v) with one slip in the decay or the Adam part."""
    adam = make_adam(**adam_slips)

    def adamw(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
        if decay == "coupled":
            return adam(param, grad + weight_decay * param, m, v, t, lr, beta1, beta2, eps)
        if decay == "both":
            return adam(param * (1 - lr * weight_decay), grad + weight_decay * param, m, v, t, lr, beta1, beta2, eps)
        if decay == "none":
            return adam(param, grad, m, v, t, lr, beta1, beta2, eps)
        if decay == "after":
            p, m, v = adam(param, grad, m, v, t, lr, beta1, beta2, eps)
            return p * (1 - lr * weight_decay), m, v
        factor = {"no_lr": 1 - weight_decay, "default_wd": 1 - lr * 0.01}.get(decay, 1 - lr * weight_decay)
        return adam(param * factor, grad, m, v, t, lr, beta1, beta2, eps)
    return adamw


ADAM = Answers(helpers.check.adam_update)
ADAMW = Answers(helpers.check.adamw_update)


# --- valid alternatives ------------------------------------------------------------------------

def in_place_adam(param, grad, m, v, t, lr, beta1, beta2, eps):
    # the usual optimizer style: update the given tensors in place and return them
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (v / (1 - beta2 ** t)).sqrt_().add_(eps)
    param.addcdiv_(m / (1 - beta1 ** t), denom, value=-lr)
    return param, m, v


def torch_style_adam(param, grad, m, v, t, lr, beta1, beta2, eps):
    # torch.optim.Adam's own arrangement: the corrections folded into a step size and the denominator
    m = torch.lerp(m, grad, 1 - beta1)
    v = v * beta2 + (1 - beta2) * grad.pow(2)
    step_size = lr / (1 - beta1 ** t)
    denom = v.sqrt() / (1 - beta2 ** t) ** 0.5 + eps
    return param - step_size * m / denom, m, v


def adamw_subtracting_decay(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    # the decay as a subtraction, param - lr * weight_decay * param, then Adam with ** 0.5
    param = param - lr * weight_decay * param
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return param - lr * m_hat / (v_hat ** 0.5 + eps), m, v


def adamw_calling_adam(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return in_place_adam(param.mul(1 - lr * weight_decay), grad, m, v, t, lr, beta1, beta2, eps)


# --- answers that call torch.optim -------------------------------------------------------------

def adam_through_torch_optim(param, grad, m, v, t, lr, beta1, beta2, eps):
    p = param.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    p.grad = grad.clone()
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


def adam_through_functional(param, grad, m, v, t, lr, beta1, beta2, eps):
    from torch.optim.adam import adam
    p, m, v = param.clone(), m.clone(), v.clone()
    adam([p], [grad], [m], [v], [], [torch.tensor(float(t - 1))], amsgrad=False, beta1=beta1, beta2=beta2,
         lr=lr, weight_decay=0.0, eps=eps, maximize=False, foreach=False)
    return p, m, v


def adamw_through_torch_optim(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    p = param.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    opt.state[p] = {"step": torch.tensor(float(t - 1)), "exp_avg": m.clone(), "exp_avg_sq": v.clone()}
    p.grad = grad.clone()
    opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


def power_outside(param, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    return param - lr * (m / (1 - beta1) ** t) / (torch.sqrt(v / (1 - beta2) ** t) + eps), m, v


def unrooted_correction(param, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    return param - lr * (m / (1 - beta1 ** t)) / (torch.sqrt(v) / (1 - beta2 ** t) + eps), m, v


def adam_with_float32(param, grad, m, v, t, lr, beta1, beta2, eps):
    p, m, v = make_adam()(param.float(), grad.float(), m.float(), v.float(), t, lr, beta1, beta2, eps)
    return p, m, v


def as_list(param, grad, m, v, t, lr, beta1, beta2, eps):
    return list(make_adam()(param, grad, m, v, t, lr, beta1, beta2, eps))


ADAM.right(equations=make_adam(), in_place=in_place_adam, torch_arrangement=torch_style_adam, list=as_list)
ADAM.wrong("the bias correction is missing", no_bias_correction=make_adam(correct_m=False, correct_v=False))
ADAM.wrong("m is not bias-corrected", m_not_corrected=make_adam(correct_m=False))
ADAM.wrong("v is not bias-corrected", v_not_corrected=make_adam(correct_v=False))
ADAM.wrong("the corrections are swapped", corrections_swapped=make_adam(swap=True))
ADAM.wrong("epsilon is inside the square root", eps_inside_root=make_adam(eps_place="inside"))
ADAM.wrong("epsilon is added before the bias correction", eps_before_correction=make_adam(eps_place="before"))
ADAM.wrong("the denominator is the square root", no_square_root=make_adam(root=False))
ADAM.wrong("your first moment m uses beta2", m_uses_beta2=make_adam(moments="m_beta2"))
ADAM.wrong("your second moment v uses beta1", v_uses_beta1=make_adam(moments="v_beta1"))
ADAM.wrong("not its square", v_not_squared=make_adam(moments="v_not_squared"))
ADAM.wrong("your m adds the whole gradient", m_no_one_minus=make_adam(moments="m_no_one_minus"))
ADAM.wrong("not the beta1 you were given", default_betas=make_adam(moments="defaults"))
ADAM.wrong("your m uses beta 0.8, not the beta1", betas_written_in=make_adam(moments="written_in"))  # 0.8, 0.99
ADAM.wrong("uphill", uphill=make_adam(sign=1.0))
ADAM.wrong("uses t + 1", t_plus_one=make_adam(t_shift=1))
ADAM.wrong("1 - beta**0 = 0 on the first step", t_minus_one=make_adam(t_shift=-1))
ADAM.wrong("not the lr you were given", default_lr=make_adam(lr_fixed=1e-3))
ADAM.wrong("the right direction but", lr_written_in=make_adam(lr_fixed=0.1))  # the first setting's lr typed in
ADAM.wrong("your epsilon is 1e-8", default_eps=make_adam(eps_fixed=1e-8))
ADAM.wrong("your update has no epsilon", no_eps=make_adam(eps_fixed=0.0))
ADAM.wrong("you returned the bias-corrected m_hat and v_hat", returns_hats=make_adam(return_hats=True))
ADAM.wrong("your function uses torch.optim", torch_optim=adam_through_torch_optim,
           torch_functional=adam_through_functional)
ADAM.wrong("the check passes float64", float32=adam_with_float32)
ADAM.wrong("your corrections divide by (1 - beta)**t", power_outside=power_outside)
ADAM.wrong("the correction belongs inside the root", unrooted_correction=unrooted_correction)
ADAM.wrong("as tensors of the parameter's shape", numbers=lambda *args, **kwargs: (1.0, 2.0, 3.0))
ADAM.wrong("(2, 3)", flattened=lambda p, *a, **k: tuple(x.flatten() for x in make_adam()(p, *a, **k)))

ADAMW.right(equations=make_adamw(), subtraction=adamw_subtracting_decay, calls_adam=adamw_calling_adam)
ADAMW.wrong("that is Adam's L2 (coupled) decay", coupled=make_adamw("coupled"))
ADAMW.wrong("the decay is applied twice", decay_twice=make_adamw("both"))
ADAMW.wrong("no weight decay", no_decay=make_adamw("none"))
ADAMW.wrong("the decay is applied after the Adam step", decay_after_step=make_adamw("after"))
ADAMW.wrong("(1 - lr * weight_decay)", decay_without_lr=make_adamw("no_lr"))
ADAMW.wrong("weight_decay 0.01 (AdamW's default)", default_weight_decay=make_adamw("default_wd"))
ADAMW.wrong("the bias correction is missing", no_bias_correction=make_adamw(correct_m=False, correct_v=False))
ADAMW.wrong("epsilon is inside the square root", eps_inside_root=make_adamw(eps_place="inside"))
ADAMW.wrong("your function uses torch.optim", torch_optim=adamw_through_torch_optim)
ADAMW.wrong("unexpected keyword argument 'weight_decay'", adam_signature=make_adam())  # Adam's is not AdamW's

CASES = ADAM.cases + ADAMW.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()


def test_the_spy_leaves_torch_optim_as_it_was():
    before = torch.optim.Optimizer.__init__
    helpers.check.adam_update.outcome(adam_through_torch_optim)
    assert torch.optim.Optimizer.__init__ is before
    p = torch.zeros(2, requires_grad=True)
    torch.optim.Adam([p])  # still constructs


def test_the_slips_are_far_beyond_rounding():
    # a check that cannot fail is no check: every slip changes the parameter by much more than the tolerance
    from helpers.check import nb04
    for c in nb04.CONFIGS:
        g, p = nb04._gradients(c["shape"])[0], nb04.START.reshape(c["shape"])
        zeros = torch.zeros(c["shape"], dtype=torch.float64)
        variants = nb04._adamw_variants(p, g, zeros, zeros, 1, c)
        right = variants.pop("right")[0]
        for name, (other, _, _) in variants.items():
            if name in ("t_plus_one", "power_outside") or name.startswith("eps_"):
                continue  # t + 1, (1 - beta)**t and eps show from step 2 on: tested on the check itself
            assert (other - right).abs().max() > 1e-4, name
