"""Checks for notebook 05a's exercises: the doggy-door decision on the top-1 class
(``my_doggy_door_decision``) and the summed dog probability (``my_dog_probability``), on inputs
where the lesson's two rules disagree (docs/exercises.md, "What each check probes")."""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..exercises import Wrong, exercise, expect
from ..models import CAT_CLASSES, DOG_CLASSES

__all__ = ["my_doggy_door_decision", "my_dog_probability"]

COME_IN, STAY_INSIDE, STAY_OUT = "Doggy come on in!", "Kitty stay inside!", "You're not a dog! Stay outside!"
MESSAGES = (COME_IN, STAY_INSIDE, STAY_OUT)
_NAMES = {150: "sea lion", 151: "Chihuahua", 200: "Tibetan terrier", 207: "golden retriever",
          268: "Mexican hairless", 269: "timber wolf",
          273: "dingo", 280: "grey fox", 281: "tabby cat", 283: "Persian cat", 285: "Egyptian cat", 286: "cougar",
          0: "tench", 999: "toilet tissue", 500: "cliff dwelling"}
_BOUNDARY = (151, 200, 268, 281, 283, 285, 0, 150, 269, 273, 280, 286, 999, 500)
_DOGS, _CATS = list(DOG_CLASSES), list(CAT_CLASSES)
_OTHERS = [i for i in range(1000) if i not in DOG_CLASSES and i not in CAT_CLASSES]


def _right(idx: int) -> str:
    return COME_IN if idx in DOG_CLASSES else STAY_INSIDE if idx in CAT_CLASSES else STAY_OUT


def _probs(top: int, p_top: float, rest_on: list[int], rest_share: float) -> torch.Tensor:
    """1000 probabilities: ``p_top`` on ``top``, ``rest_share`` spread evenly over ``rest_on``, the remainder
    over every other class; ``top`` stays the largest."""
    probs = torch.zeros(1000, dtype=torch.float64)
    rest_on = [i for i in rest_on if i != top]
    others = [i for i in range(1000) if i != top and i not in set(rest_on)]
    if rest_on:
        probs[rest_on] = rest_share / len(rest_on)
    probs[others] = (1 - p_top - rest_share) / len(others)
    probs[top] = p_top
    assert int(probs.argmax()) == top and abs(float(probs.sum()) - 1) < 1e-9
    return probs


def _plain_probes() -> list[tuple[int, torch.Tensor]]:
    # every boundary class on top, at a high, a middling and a low top probability
    return [(idx, _probs(idx, p, [], 0.0)) for p in (0.9, 0.4, 0.05) for idx in _BOUNDARY]


def _disagreeing_probes() -> list[tuple[int, torch.Tensor, str]]:
    """Photos where the top-1 rule and the summed dog probability disagree, as in the lesson's measured ones."""
    probes = []
    for idx in (207, 151, 268):  # a dog breed on top, the dog classes together unlikely (the ostrich's case)
        probes.append((idx, _probs(idx, 0.06, _OTHERS, 0.80), "low_dog_sum"))
    for idx in (273, 0, 285, 281):  # a non-dog on top, the dog classes together likely (Lock's paw, the dingo)
        probes.append((idx, _probs(idx, 0.06, _DOGS, 0.85), "high_dog_sum"))
    # no group above one half, the dogs the largest group: only a "largest group" rule lets it in
    plural = torch.zeros(1000, dtype=torch.float64)
    plural[_DOGS], plural[_CATS] = 0.45 / len(_DOGS), 0.20 / len(_CATS)
    plural[_OTHERS] = 0.25 / (len(_OTHERS) - 1)
    plural[0] = 0.10
    probes.append((0, plural, "dogs_largest_group"))
    return probes


# wrong rules a learner plausibly writes, as functions of the probabilities, to name a matching answer
def _group_sum(probs: torch.Tensor) -> str:
    dog, cat = float(probs[_DOGS].sum()), float(probs[_CATS].sum())
    return COME_IN if dog > 0.5 else STAY_INSIDE if cat > 0.5 else STAY_OUT


def _largest_group(probs: torch.Tensor) -> str:
    sums = {COME_IN: float(probs[_DOGS].sum()), STAY_INSIDE: float(probs[_CATS].sum()),
            STAY_OUT: float(probs[_OTHERS].sum())}
    return max(sums, key=sums.get)


def _top_threshold(probs: torch.Tensor) -> str:
    idx = int(probs.argmax())
    return _right(idx) if float(probs[idx]) > 0.5 else STAY_OUT


WRONG_RULES = {
    "summed": (_group_sum, "you decided by the summed group probability (P(dog) > 0.5): that is the OTHER rule of "
                           "this notebook (section 4, Exercise 2); the course's door, this exercise, looks only at the "
                           "top-1 class, int(probs.argmax())"),
    "largest_group": (_largest_group, "you decided by the group (dogs, cats, the rest) with the largest summed "
                                      "probability: the course's door looks only at the top-1 class, "
                                      "int(probs.argmax())"),
    "threshold": (_top_threshold, "you let a class count only when its probability is above 0.5: the course's rule "
                                  "takes the top-1 class whatever its probability"),
}


def _fingerprint(answer: Callable, probes) -> str | None:
    """The name of the wrong rule whose decisions the answer repeats on every probe, if any."""
    said = [answer(p.clone()) for _, p, *_ in probes]
    for name, (rule, _) in WRONG_RULES.items():
        if all(s == rule(p) for s, (_, p, *_) in zip(said, probes)):
            return name
    return None


@exercise
def my_doggy_door_decision(answer) -> str:
    """``answer(probs)`` must return the course's message for the top-1 class of 1000 probabilities ``probs``."""
    plain, disagreeing = _plain_probes(), _disagreeing_probes()
    for idx, probs in plain:
        said, right = answer(probs.clone()), _right(idx)
        expect(said in MESSAGES, f"for class {idx} you returned {said!r}; return one of the course's three messages "
                                 f"exactly: {COME_IN!r}, {STAY_INSIDE!r} or {STAY_OUT!r}")
        if said == right:
            continue
        name = _NAMES.get(idx, f"class {idx}")
        p_top = float(probs[idx])
        rule = _fingerprint(answer, plain + disagreeing)
        if rule is not None:
            raise Wrong(WRONG_RULES[rule][1])

        def said_at(i, p=p_top):
            return answer(_probs(i, p, [], 0.0))
        inside_dog, inside_cat, outside = said_at(200) == COME_IN, said_at(283) == STAY_INSIDE, said_at(0) == STAY_OUT
        if idx in (151, 268) and inside_dog:
            raise Wrong(f"class {idx} ({name}) is a dog: the dog range 151–268 includes both ends "
                        "(151 <= idx <= 268, or range(151, 269) in Python)")
        if idx in (150, 269) and outside and inside_dog:
            raise Wrong(f"class {idx} ({name}) is not a dog: the dog range stops at 151–268, both ends included")
        if idx in (281, 285) and said == STAY_OUT and inside_cat:
            raise Wrong(f"class {idx} ({name}) is a cat: the cat range 281–285 includes both ends "
                        "(281 <= idx <= 285, or range(281, 286))")
        if idx in CAT_CLASSES and not inside_cat and said_at(283) in (STAY_OUT, COME_IN) and outside:
            raise Wrong(f"class {idx} ({name}) is a cat (281–285): cats get {STAY_INSIDE!r}, checked before "
                        "'everything else'")
        if idx in (280, 286) and outside and inside_cat:
            raise Wrong(f"class {idx} ({name}) is not a cat: the cat range is 281–285, both ends included")
        raise Wrong(f"class {idx} ({name}) on top with probability {p_top:.2f} should get {right!r}, your function "
                    f"said {said!r}")
    for idx, probs, _kind in disagreeing:
        said, right = answer(probs.clone()), _right(idx)
        if said == right:
            continue
        rule = _fingerprint(answer, plain + disagreeing)
        if rule is not None:
            raise Wrong(WRONG_RULES[rule][1])
        dog_sum = float(probs[_DOGS].sum())
        raise Wrong(f"class {idx} ({_NAMES[idx]}) is on top with probability "
                    f"{float(probs[idx]):.2f} while the dog classes together hold {dog_sum:.2f}: the course's rule "
                    f"looks only at the top-1 class and says {right!r}; yours said {said!r}")
    return ("classes 151–268 come in, 281–285 stay inside, the rest stay out, both ends of each range included, "
            "decided by the top-1 class alone (tried on every boundary, and where the summed rule disagrees)")


def _logits(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(n, 1000, generator=g, dtype=torch.float64)
    ends = [207, 268, 151, 150, 269, 285]
    for row in range(n):
        logits[row, ends[row % len(ends)]] += 12 if row % 2 == 0 else 6
    return logits


def _candidates(logits: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    probs = logits.softmax(dim=1)
    return [
        (logits[:, 151:269].sum(dim=1), "you summed the logits (scores), not probabilities: apply softmax over the "
                                        "classes first, logits.softmax(dim=1), then sum the dog columns"),
        (logits.softmax(dim=0)[:, 151:269].sum(dim=1), "softmax ran over the batch (dim=0), so the photos compete "
                                                       "with each other; one photo's probabilities are a row: "
                                                       "softmax(dim=1)"),
        (logits.sigmoid()[:, 151:269].sum(dim=1), "you applied a sigmoid to each logit: sigmoids of 1000 classes do "
                                                  "not form one distribution (they need not sum to 1); softmax(dim=1) "
                                                  "does"),
        (logits.log_softmax(dim=1)[:, 151:269].sum(dim=1), "you summed log-probabilities: log_softmax gives logs; "
                                                           "sum the probabilities themselves, softmax(dim=1)"),
        (logits[:, 151:269].softmax(dim=1).sum(dim=1), "softmax over the dog columns alone always sums to 1: take "
                                                       "the softmax over all 1000 classes, then sum the dog columns"),
        (probs[:, 151:268].sum(dim=1), "class 268 is missing: 151:268 stops before 268; slice 151:269, or use "
                                       "helpers.DOG_CLASSES"),
        (probs[:, 152:269].sum(dim=1), "class 151 is missing: the dog classes are 151–268, both ends included: "
                                       "slice 151:269, or use helpers.DOG_CLASSES"),
        (probs[:, 150:269].sum(dim=1), "class 150 (sea lion) is counted: the dog classes are 151–268; slice 151:269"),
        (probs[:, 151:270].sum(dim=1), "class 269 (timber wolf) is counted: the dog classes are 151–268; "
                                       "slice 151:269"),
        (probs[:, 151:286].sum(dim=1), "you summed dogs AND cats (151–285): P(dog) is the dog classes 151–268 alone"),
        (probs[:, 151:269].mean(dim=1), "you averaged the dog classes' probabilities: P(dog) is their SUM"),
        (probs.max(dim=1).values, "that is the top-1 probability; the summed rule adds up every dog class's "
                                  "probability"),
        (probs[:, 151:269].max(dim=1).values, "that is the most likely dog breed's probability; the summed rule adds "
                                              "up every dog class's probability"),
    ]


@exercise
def my_dog_probability(answer) -> str:
    """``answer(logits)`` must return, for each row of ``logits`` (N × 1000), the summed probability of dog classes."""
    cases = [("four photos", _logits(4, 5)), ("one photo", _logits(1, 6)), ("seven photos", _logits(7, 7))]
    big = _logits(3, 8) * 30 + 1000  # logits near 1000: exp overflows unless the max is subtracted
    cases.append(("three photos with logits near 1000", big))
    for what, logits in cases:
        right = logits.softmax(dim=1)[:, DOG_CLASSES].sum(dim=1)
        if what == cases[0][0]:
            got = answer(logits.clone())
        else:
            try:
                got = answer(logits.clone())
            except Exception as exc:  # noqa: BLE001 - say which batch made it fail
                raise Wrong(f"for {what} (logits of shape {tuple(logits.shape)}) your function raised "
                            f"{type(exc).__name__}: {exc}; with four photos it ran: it must work for any number of "
                            "rows (logits.shape[0])") from exc
        expect(isinstance(got, torch.Tensor), f"return a tensor, one number per photo; got {type(got).__name__}")
        expect(got.shape == right.shape, f"for {what} return one number per photo, shape {tuple(right.shape)}; yours "
                                         f"has shape {tuple(got.shape)} (sum over dim=1, the classes, no keepdim)")
        got = got.detach().double()
        if torch.allclose(got, right, atol=1e-6):
            continue
        if not torch.isfinite(got).all():
            raise Wrong(f"for {what} your function returns {[float(v) for v in got]}: exp overflows for logits this "
                        "large; softmax(dim=1) subtracts each row's max first (notebook 01)")
        for value, message in _candidates(logits):
            if torch.allclose(got, value, atol=1e-6):
                raise Wrong(message)
        raise Wrong(f"for {what} expected {[round(float(v), 6) for v in right]}, got "
                    f"{[round(float(v), 6) for v in got]} (largest difference {float((got - right).abs().max()):.2e}, "
                    "tolerance 1e-6): softmax(dim=1), then sum columns 151–268")
    return ("P(dog) is the softmax over each photo's 1000 classes, summed over the 118 dog classes 151–268: a number "
            "in [0, 1] per photo, for any batch size, and stable for large logits")
