"""Mutation tests of notebook 04's exercise checks: one Adam step and one AdamW step against
torch.optim, each typical slip named by its own message."""
from __future__ import annotations

import pytest
import torch

import helpers.check
from helpers.exercises import NOT_DONE, PASSED, WRONG


def make_adam(*, moments="right", correct_m=True, correct_v=True, eps_place="outside", sign=-1.0, t_shift=0):
    """Return an Adam step (param, grad, m, v, t, lr, beta1, beta2, eps) -> (param, m, v) with one slip."""
    def adam(param, grad, m, v, t, lr, beta1, beta2, eps):
        b1, b2 = {"m_beta2": (beta2, beta2), "v_beta1": (beta1, beta1), "defaults": (0.9, 0.999)}.get(
            moments, (beta1, beta2))
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * (grad if moments == "v_not_squared" else grad * grad)
        tt = t + t_shift
        m_hat = m / (1 - beta1 ** tt) if correct_m else m
        v_hat = v / (1 - beta2 ** tt) if correct_v else v
        if eps_place == "inside":
            denom = torch.sqrt(v_hat + eps)
        elif eps_place == "before":
            denom = (v.sqrt() + eps) / (1 - beta2 ** tt) ** 0.5
        else:
            denom = v_hat.sqrt() + eps
        return param + sign * lr * m_hat / denom, m, v
    return adam


def make_adamw(decay="right", **adam_slips):
    """Return an AdamW step (..., weight_decay) -> (param, m, v) with one slip in the decay or the Adam part."""
    adam = make_adam(**adam_slips)

    def adamw(param, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
        if decay == "coupled":
            return adam(param, grad + weight_decay * param, m, v, t, lr, beta1, beta2, eps)
        if decay == "none":
            return adam(param, grad, m, v, t, lr, beta1, beta2, eps)
        if decay == "after":
            p, m, v = adam(param, grad, m, v, t, lr, beta1, beta2, eps)
            return p * (1 - lr * weight_decay), m, v
        factor = (1 - weight_decay) if decay == "no_lr" else (1 - lr * weight_decay)
        return adam(param * factor, grad, m, v, t, lr, beta1, beta2, eps)
    return adamw


def stub(*args, **kwargs):
    raise NotImplementedError()


def in_place_adam(param, grad, m, v, t, lr, beta1, beta2, eps):
    # the usual optimizer style: update the given tensors in place and return them
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (v / (1 - beta2 ** t)).sqrt_().add_(eps)
    param.addcdiv_(m / (1 - beta1 ** t), denom, value=-lr)
    return param, m, v


def test_adam_right_answers_pass_and_stub_is_not_done():
    assert helpers.check.adam_update.outcome(make_adam()).status == PASSED
    assert helpers.check.adam_update.outcome(in_place_adam).status == PASSED
    assert helpers.check.adam_update.outcome(stub).status == NOT_DONE


@pytest.mark.parametrize("slip, words", [
    (dict(correct_m=False, correct_v=False), "the bias correction is missing"),
    (dict(correct_m=False), "m is not bias-corrected"),
    (dict(correct_v=False), "v is not bias-corrected"),
    (dict(eps_place="inside"), "epsilon is inside the square root"),
    (dict(eps_place="before"), "epsilon is added before the bias correction"),
    (dict(moments="m_beta2"), "your first moment m uses beta2"),
    (dict(moments="v_beta1"), "your second moment v uses beta1"),
    (dict(moments="v_not_squared"), "not its square"),
    (dict(moments="defaults"), "not the beta1 you were given"),
    (dict(sign=1.0), "uphill"),
    (dict(t_shift=1), "uses t + 1"),
])
def test_adam_mistakes_get_their_message(slip, words):
    result = helpers.check.adam_update.outcome(make_adam(**slip))
    assert result.status == WRONG and words in result.message, result.line


def test_adamw_right_answer_passes_and_stub_is_not_done():
    assert helpers.check.adamw_update.outcome(make_adamw()).status == PASSED
    assert helpers.check.adamw_update.outcome(stub).status == NOT_DONE
    assert helpers.check.adamw_update.outcome(make_adam()).status == WRONG, "Adam's signature is not AdamW's"
    numbers = helpers.check.adam_update.outcome(lambda *args, **kwargs: (1.0, 2.0, 3.0))
    assert numbers.status == WRONG and "as tensors of the parameter's shape" in numbers.message


@pytest.mark.parametrize("decay, slip, words", [
    ("coupled", {}, "that is Adam's L2 (coupled) decay"),
    ("none", {}, "no weight decay"),
    ("after", {}, "the decay is applied after the Adam step"),
    ("no_lr", {}, "(1 - lr * weight_decay)"),
    ("right", dict(correct_m=False, correct_v=False), "the bias correction is missing"),
    ("right", dict(eps_place="inside"), "epsilon is inside the square root"),
])
def test_adamw_mistakes_get_their_message(decay, slip, words):
    result = helpers.check.adamw_update.outcome(make_adamw(decay, **slip))
    assert result.status == WRONG and words in result.message, result.line


def test_the_slips_are_far_beyond_rounding():
    # a check that cannot fail is no check: every slip changes the parameter by much more than the tolerance
    from helpers.check import nb04
    g, p = nb04._gradients()[0], nb04.START
    zeros = torch.zeros(6, dtype=torch.float64)
    variants = nb04._adamw_variants(p, g, zeros, zeros, 1)
    right = variants.pop("right")[0]
    for name, (other, _, _) in variants.items():
        assert (other - right).abs().max() > 1e-3, name
