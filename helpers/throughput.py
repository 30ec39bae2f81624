"""Training throughput per batch size, measured honestly, and the memory of a batch (notebook 03).
On :func:`helpers.timing.benchmark`; the GPU path is the efficient one (batches made on the
device, channels-last, bfloat16 autocast, a fused step): ARCHITECTURE.md, "Throughput"."""
from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .device import model_device, synchronize
from .timing import Timing, benchmark
from .verdict import _bootstrap, _picks, paired_verdict

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


def is_power_of_two(n: int) -> bool:
    """Return True when ``n`` is 1, 2, 4, 8, ... (notebook 03)."""
    return isinstance(n, int) and not isinstance(n, bool) and n > 0 and n & (n - 1) == 0


def _default_optimizer(params: Iterable[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    # Adam at its default learning rate is the course's choice; on CUDA the fused kernel
    # updates every parameter in a few launches instead of one per tensor.
    if device.type == "cuda":
        return torch.optim.Adam(params, fused=True)
    return torch.optim.Adam(params)


@dataclass
class TrainingStep:
    """One optimizer step on a fixed synthetic batch; call it to run the step (notebook 03).
    Built by :func:`training_step`; it returns the loss tensor without reading it, so no call
    waits for the device (autocast covers the forward pass and the loss, not the backward)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor
    device: torch.device
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default_factory=nn.CrossEntropyLoss)

    @property
    def batch_size(self) -> int:
        """Return the number of items in the batch."""
        return int(self.x.shape[0])

    def __call__(self) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype,
                            enabled=self.autocast_dtype is not None):
            loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()  # outside autocast, as the AMP docs recommend
        self.optimizer.step()
        return loss.detach()


def training_step(model: nn.Module, batch_size: int, *, input_shape: Sequence[int] = (3, 224, 224),
                  num_classes: int = 1000, device: torch.device | str | None = None,
                  channels_last: bool | None = None, mixed_precision: bool | None = None,
                  optimizer_factory: OptimizerFactory | None = None, seed: int = 0) -> TrainingStep:
    """Return a :class:`TrainingStep` for ``model`` on a synthetic batch (notebook 03).
    Made on ``device``, so no data loading is timed; the model is moved there and set to train,
    in place. The options (``None``: what suits the device): ARCHITECTURE.md, "Throughput"."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    device = torch.device(device) if device is not None else model_device(model)
    input_shape = tuple(int(s) for s in input_shape)
    if channels_last is None:
        channels_last = device.type == "cuda"
    if channels_last and len(input_shape) != 3:
        raise ValueError(f"channels_last needs images (channels, height, width); input_shape is {input_shape}")
    if mixed_precision is None:
        mixed_precision = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    model.zero_grad(set_to_none=True)
    generator = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn((batch_size, *input_shape), generator=generator, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, num_classes, (batch_size,), generator=generator, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters: nothing to train.")
    optimizer = optimizer_factory(params) if optimizer_factory else _default_optimizer(params, device)
    return TrainingStep(model=model, optimizer=optimizer, x=x, y=y, device=device,
                        autocast_dtype=torch.bfloat16 if mixed_precision else None,
                        channels_last=channels_last)


def _row(step: TrainingStep, timing: Timing, steps_per_repeat: int, peak_bytes: int | None) -> dict:
    images = step.batch_size * steps_per_repeat
    median, fastest, slowest = images / timing.median, images / timing.min, images / timing.max
    return {
        "batch_size": step.batch_size,
        "images_per_s_median": median,
        "images_per_s_min": slowest,
        "images_per_s_max": fastest,
        "spread": (fastest - slowest) / median,
        "ms_per_step_median": 1000 * timing.median / steps_per_repeat,
        "peak_memory_mib": None if peak_bytes is None else peak_bytes / 2**20,
        "timed_steps": timing.repeats * steps_per_repeat,
        "device": str(step.device),
        "precision": "bfloat16 autocast" if step.autocast_dtype == torch.bfloat16 else
                     (str(step.autocast_dtype).replace("torch.", "") + " autocast"
                      if step.autocast_dtype is not None else "float32"),
        "channels_last": step.channels_last,
    }


def training_throughput(model: nn.Module, batch_size: int, *, warmup: int = 3, repeats: int = 10,
                        steps_per_repeat: int = 1, min_seconds: float = 0.0, **step_kwargs) -> dict:
    """Return one row of training throughput for ``model`` at ``batch_size`` (notebook 03).
    A :func:`training_step` (``step_kwargs``) timed by :func:`helpers.timing.benchmark`; the
    row's keys (images/s, spread, peak memory...): ARCHITECTURE.md, "Throughput"."""
    if steps_per_repeat < 1:
        raise ValueError(f"steps_per_repeat must be at least 1, got {steps_per_repeat}")
    device = torch.device(step_kwargs.pop("device", None) or model_device(model))
    on_cuda = device.type == "cuda"
    if on_cuda:
        model.zero_grad(set_to_none=True)  # free the last call's gradients before measuring
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    step = training_step(model, batch_size, device=device, **step_kwargs)

    def run() -> None:
        for _ in range(steps_per_repeat):
            step()

    timing = benchmark(run, device=device, warmup=warmup, repeats=repeats, min_seconds=min_seconds)
    peak = torch.cuda.max_memory_allocated(device) if on_cuda else None
    model.zero_grad(set_to_none=True)
    return _row(step, timing, steps_per_repeat, peak)


def _merge_rows(rows: list[dict]) -> dict:
    """Return one row from several rounds: median of medians, extremes of the extremes, the rounds' medians."""
    merged = dict(rows[0])
    ordered = sorted(r["images_per_s_median"] for r in rows)
    mid = len(ordered) // 2
    merged["images_per_s_median"] = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    merged["images_per_s_min"] = min(r["images_per_s_min"] for r in rows)
    merged["images_per_s_max"] = max(r["images_per_s_max"] for r in rows)
    merged["spread"] = (merged["images_per_s_max"] - merged["images_per_s_min"]) / merged["images_per_s_median"]
    merged["ms_per_step_median"] = 1000 * merged["batch_size"] / merged["images_per_s_median"]
    merged["timed_steps"] = sum(r["timed_steps"] for r in rows)
    peaks = [r["peak_memory_mib"] for r in rows if r["peak_memory_mib"] is not None]
    merged["peak_memory_mib"] = max(peaks) if peaks else None
    merged["rounds"] = len(rows)
    merged["round_images_per_s"] = [r["images_per_s_median"] for r in rows]
    return merged


def throughput_sweep(model: nn.Module, batch_sizes: Sequence[int], *, rounds: int = 1, placebo: int | None = None,
                     shuffle_seed: int | None = None, progress: bool = True, **kwargs) -> list[dict]:
    """Return a :func:`training_throughput` row per entry that fits, in order (notebook 03).
    In ``rounds`` interleaved passes (a slow spell hits every entry, not one); ``placebo``
    measures a size twice; sizes out of memory are dropped (ARCHITECTURE.md, "Throughput")."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    sizes = list(dict.fromkeys(batch_sizes))
    if not sizes:
        raise ValueError("throughput_sweep got no batch sizes")
    if placebo is not None and placebo not in sizes:
        raise ValueError(f"the placebo must be one of the batch sizes {sizes}, got {placebo}")
    entries = [(b, False) for b in sizes] + ([(placebo, True)] if placebo is not None else [])
    measured: dict[tuple[int, bool], list[dict]] = {e: [] for e in entries}
    too_big: set[int] = set()
    shuffler = random.Random(shuffle_seed)
    bar = tqdm(total=rounds * len(entries), desc="batch-size sweep", leave=False, disable=not progress)
    for r in range(rounds):
        if shuffle_seed is not None:
            order = shuffler.sample(entries, len(entries))
        else:
            order = entries if r % 2 == 0 else entries[::-1]
        for entry in order:
            bar.update(1)
            if entry[0] in too_big:
                continue
            try:
                measured[entry].append(training_throughput(model, entry[0], **kwargs))
            except torch.OutOfMemoryError:
                too_big.add(entry[0])
                model.zero_grad(set_to_none=True)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
    bar.close()
    rows = []
    for b, is_placebo in entries:
        if b in too_big or not measured[(b, is_placebo)]:
            continue
        row = _merge_rows(measured[(b, is_placebo)])
        row["label"] = f"{b} placebo" if is_placebo else str(b)
        row["placebo"] = is_placebo
        rows.append(row)
    return rows


VERDICTS = ("within noise", "powers of two faster", "powers of two slower", "too noisy to tell")


def power_of_two_verdict(rows: Sequence[dict], *, noise_limit: float = 0.10, confidence: float = 0.95,
                         resamples: int = 2000, seed: int = 0) -> dict:
    """Return the verdict on powers of two from a ``throughput_sweep`` with placebo (notebook 03).
    Powers of two against their neighbours within each round, beside the gap a placebo (one size
    measured twice) shows by chance (ARCHITECTURE.md, "The power-of-two verdict")."""
    main, placebo, twin, pairs, n_rounds = _sweep_pairs(rows)

    def log_ratio(a: dict, b: dict) -> list[float]:
        return [math.log(x / y) for x, y in zip(a["round_images_per_s"], b["round_images_per_s"])]

    per_pair = {pair: log_ratio(main[pair[0]], main[pair[1]]) for pair in pairs}
    effect_rounds = [statistics.fmean(values) for values in zip(*per_pair.values())]
    judged = paired_verdict(effect_rounds, log_ratio(placebo, twin), noise_limit=noise_limit, confidence=confidence,
                            resamples=resamples, seed=seed, transform=math.expm1)
    picks = _picks(n_rounds, resamples, seed)
    comparisons = []
    for (b, n), values in per_pair.items():
        gap, low, high = (math.expm1(v) for v in _bootstrap(values, picks, confidence))
        comparisons.append({"power_of_two": b, "neighbour": n, "gap": gap, "low": low, "high": high})
    verdict = {"higher": "powers of two faster", "lower": "powers of two slower"}.get(judged["verdict"],
                                                                                      judged["verdict"])
    return {**judged, "verdict": verdict, "comparisons": comparisons}


def _sweep_pairs(rows: Sequence[dict]) -> tuple[dict[int, dict], dict, dict, list[tuple[int, int]], int]:
    """Return (entries by batch size, the placebo, its twin, (power of two, neighbour) pairs, rounds);
    raise ``ValueError`` when the sweep cannot give a verdict."""
    main = {int(r["batch_size"]): r for r in rows if not r.get("placebo")}
    placebos = [r for r in rows if r.get("placebo")]
    if len(placebos) != 1:
        raise ValueError("the sweep needs exactly one placebo entry (throughput_sweep(placebo=...)), "
                         f"found {len(placebos)}")
    twin = main.get(int(placebos[0]["batch_size"]))
    pairs = [(b, n) for b in sorted(main) if is_power_of_two(b) for n in (b - 1, b + 1) if n in main]
    if twin is None or not pairs:
        raise ValueError("the sweep needs the placebo's own batch size and at least one power of two with a "
                         "measured neighbour (b - 1 or b + 1)")
    n_rounds = len(placebos[0]["round_images_per_s"])
    if n_rounds < 3 or any(len(r["round_images_per_s"]) != n_rounds for r in rows):
        raise ValueError(f"every entry needs the same number of rounds, at least 3, for an interval; got "
                         f"{sorted({len(r['round_images_per_s']) for r in rows})}")
    return main, placebos[0], twin, pairs, n_rounds


def saved_activation_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Return the bytes of tensors autograd keeps for the backward of ``model(x)`` (notebook 03).
    The memory that grows with the batch (saved inputs and outputs, batch included, parameters
    not), on any device, unlike ``torch.cuda.max_memory_allocated``; 0 under ``no_grad``."""
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_storages:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    del out
    return sum(saved.values())
