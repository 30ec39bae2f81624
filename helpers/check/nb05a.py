"""Checks for notebook 05a's exercises: the course's doggy-door decision and the summed dog probability."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise, expect
from ..models import CAT_CLASSES, DOG_CLASSES

__all__ = ["my_doggy_door_decision", "my_dog_probability"]

COME_IN, STAY_INSIDE, STAY_OUT = "Doggy come on in!", "Kitty stay inside!", "You're not a dog! Stay outside!"
_NAMES = {150: "sea lion", 151: "Chihuahua", 268: "Mexican hairless", 269: "timber wolf", 273: "dingo",
          280: "grey fox", 281: "tabby cat", 285: "Egyptian cat", 286: "cougar", 0: "tench", 999: "toilet tissue"}


def _right(idx: int) -> str:
    return COME_IN if idx in DOG_CLASSES else STAY_INSIDE if idx in CAT_CLASSES else STAY_OUT


@exercise
def my_doggy_door_decision(answer) -> str:
    """``answer(probs)`` must return the course's message for the top-1 class of 1000 probabilities ``probs``."""
    for idx in (151, 200, 268, 281, 285, 0, 150, 269, 273, 280, 286, 999):
        probs = torch.full((1000,), 0.5 / 999)
        probs[idx] = 0.5  # the top-1 class, with half the probability
        said, right = answer(probs), _right(idx)
        expect(said in (COME_IN, STAY_INSIDE, STAY_OUT),
               f"for class {idx} you returned {said!r}; return one of the course's three messages exactly: "
               f"{COME_IN!r}, {STAY_INSIDE!r} or {STAY_OUT!r}")
        if said == right:
            continue
        name = _NAMES.get(idx, f"class {idx}")
        if idx in (151, 268):
            raise Wrong(f"class {idx} ({name}) is a dog: the dog range 151–268 includes both ends "
                        "(151 <= idx <= 268, or range(151, 269) in Python)")
        if idx in (150, 269):
            raise Wrong(f"class {idx} ({name}) is not a dog: the dog range stops at 151–268, both ends included")
        if idx in CAT_CLASSES:
            raise Wrong(f"class {idx} ({name}) is a cat (281–285): cats get {STAY_INSIDE!r}, checked before "
                        "'everything else'")
        if idx in (280, 286):
            raise Wrong(f"class {idx} ({name}) is not a cat: the cat range is 281–285, both ends included")
        raise Wrong(f"class {idx} ({name}) should get {right!r}, your function said {said!r}")
    return ("classes 151–268 come in, 281–285 stay inside, the rest stay out, both ends of each range included "
            "(tried on every boundary)")


def _logits() -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    logits = 3 * torch.randn(4, 1000, generator=g, dtype=torch.float64)
    logits[0, 207] += 12   # a golden retriever
    logits[1, 268] += 12   # the last dog class
    logits[2, 151] += 6    # the first one
    return logits


@exercise
def my_dog_probability(answer) -> str:
    """``answer(logits)`` must return, for each row of ``logits`` (N × 1000), the summed probability of dog classes."""
    logits = _logits()
    probs = logits.softmax(dim=1)
    right = probs[:, DOG_CLASSES].sum(dim=1)
    got = answer(logits.clone())
    expect(isinstance(got, torch.Tensor), f"return a tensor, one number per photo; got {type(got).__name__}")
    expect(got.shape == right.shape, f"return one number per photo, shape {tuple(right.shape)}; yours has shape "
                                     f"{tuple(got.shape)} (sum over dim=1, the classes)")
    got = got.double()
    if torch.allclose(got, right, atol=1e-6):
        return ("P(dog) is the softmax over each photo's 1000 classes, summed over the 118 dog classes 151–268: "
                "a number in [0, 1] per photo")
    if torch.allclose(got, logits[:, DOG_CLASSES].sum(dim=1), atol=1e-4):
        raise Wrong("you summed the logits (scores), not probabilities: apply softmax over the classes first, "
                    "logits.softmax(dim=1), then sum the dog columns")
    if torch.allclose(got, logits.softmax(dim=0)[:, DOG_CLASSES].sum(dim=1), atol=1e-6):
        raise Wrong("softmax ran over the batch (dim=0), so the photos compete with each other; one photo's "
                    "probabilities are a row: softmax(dim=1)")
    if torch.allclose(got, probs[:, 151:268].sum(dim=1), atol=1e-6):
        raise Wrong("class 268 is missing: 151:268 stops before 268; slice 151:269, or use helpers.DOG_CLASSES")
    if torch.allclose(got, probs[:, 152:269].sum(dim=1), atol=1e-6) or torch.allclose(
            got, probs[:, 150:269].sum(dim=1), atol=1e-6):
        raise Wrong("the dog classes are 151–268, both ends included: slice 151:269, or use helpers.DOG_CLASSES")
    if torch.allclose(got, probs.max(dim=1).values, atol=1e-6):
        raise Wrong("that is the top-1 probability; the summed rule adds up every dog class's probability")
    raise Wrong(f"expected {[round(float(v), 4) for v in right]} for the check's four photos, got "
                f"{[round(float(v), 4) for v in got]}: softmax(dim=1), then sum columns 151–268")
