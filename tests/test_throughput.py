"""Unit tests for helpers.throughput (notebook 03): the training step, throughput rows, the sweep,
the power-of-two verdict and the memory estimates. Tiny models, CPU; a CUDA test runs only on a GPU."""
from __future__ import annotations

import random
import time

import pytest
import torch
from torch import nn

from helpers.throughput import (
    VERDICTS,
    TrainingStep,
    _merge_rows,
    is_power_of_two,
    power_of_two_verdict,
    saved_activation_bytes,
    throughput_sweep,
    training_step,
    training_throughput,
)

SHAPE = (1, 8, 8)


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))


class BatchRecorder(nn.Module):
    """A linear classifier that records the batch size of every forward call."""

    def __init__(self, sleep_s: float = 0.0, fail_above: int | None = None):
        super().__init__()
        self.linear = nn.Linear(8, 3)
        self.seen: list[int] = []
        self.sleep_s = sleep_s
        self.fail_above = fail_above

    def forward(self, x):
        self.seen.append(x.shape[0])
        if self.fail_above is not None and x.shape[0] > self.fail_above:
            raise torch.OutOfMemoryError(f"pretend the device has no room for a batch of {x.shape[0]}")
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return self.linear(x)


def test_is_power_of_two():
    assert [n for n in range(-4, 300) if is_power_of_two(n)] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert not is_power_of_two(True) and not is_power_of_two(128.0)


def test_training_step_builds_a_synthetic_batch_and_trains():
    model = tiny_cnn().eval()
    step = training_step(model, 6, input_shape=SHAPE, num_classes=5)
    assert isinstance(step, TrainingStep) and step.batch_size == 6
    assert step.x.shape == (6, *SHAPE) and step.x.dtype == torch.float32
    assert step.y.shape == (6,) and step.y.dtype == torch.long and 0 <= int(step.y.min()) <= int(step.y.max()) < 5
    assert model.training, "training_step must put the model in training mode"
    before = [p.detach().clone() for p in model.parameters()]
    loss = step()
    assert loss.ndim == 0 and torch.isfinite(loss) and not loss.requires_grad
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())), "no optimizer step happened"


def test_training_step_defaults_on_cpu_are_float32_and_contiguous():
    step = training_step(tiny_cnn(), 4, input_shape=SHAPE, num_classes=5)
    assert step.autocast_dtype is None and step.channels_last is False
    assert step.x.is_contiguous()
    assert isinstance(step.optimizer, torch.optim.Adam)


def test_training_step_same_seed_same_batch():
    a = training_step(tiny_cnn(), 4, input_shape=SHAPE, num_classes=5, seed=3)
    b = training_step(tiny_cnn(), 4, input_shape=SHAPE, num_classes=5, seed=3)
    c = training_step(tiny_cnn(), 4, input_shape=SHAPE, num_classes=5, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and not torch.equal(a.x, c.x)


def test_channels_last_converts_model_and_input():
    # with one channel (C == 1) both layouts coincide, so use three
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    step = training_step(model, 2, input_shape=(3, 8, 8), num_classes=2, channels_last=True)
    assert step.channels_last
    assert step.x.is_contiguous(memory_format=torch.channels_last) and not step.x.is_contiguous()
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous()
    assert step().ndim == 0


def test_channels_last_needs_images():
    with pytest.raises(ValueError, match="channels_last"):
        training_step(BatchRecorder(), 4, input_shape=(8,), num_classes=3, channels_last=True)


def test_mixed_precision_runs_the_forward_in_bfloat16():
    dtypes = []
    for mixed in (True, False):
        model = tiny_cnn()
        handle = model[-1].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
        step = training_step(model, 4, input_shape=SHAPE, num_classes=5, mixed_precision=mixed)
        step()
        handle.remove()
    assert dtypes == [torch.bfloat16, torch.float32]
    assert all(p.dtype == torch.float32 for p in model.parameters()), "autocast must keep float32 weights"


def test_training_step_rejects_bad_arguments():
    for bad in (0, -3, True, 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            training_step(tiny_cnn(), bad, input_shape=SHAPE, num_classes=5)
    frozen = tiny_cnn().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        training_step(frozen, 2, input_shape=SHAPE, num_classes=5)


def test_optimizer_factory_is_used():
    step = training_step(tiny_cnn(), 2, input_shape=SHAPE, num_classes=5,
                         optimizer_factory=lambda params: torch.optim.SGD(params, lr=0.1))
    assert isinstance(step.optimizer, torch.optim.SGD) and step.optimizer.defaults["lr"] == 0.1


def test_training_throughput_row_counts_warmup_and_repeats():
    model = BatchRecorder()
    row = training_throughput(model, 5, input_shape=(8,), num_classes=3, warmup=2, repeats=4,
                              steps_per_repeat=3)
    assert model.seen == [5] * ((2 + 4) * 3), "warm-up and timed steps: each call runs steps_per_repeat steps"
    assert row["batch_size"] == 5 and row["timed_steps"] == 12
    assert row["images_per_s_min"] <= row["images_per_s_median"] <= row["images_per_s_max"]
    assert row["spread"] == pytest.approx(
        (row["images_per_s_max"] - row["images_per_s_min"]) / row["images_per_s_median"])
    assert row["ms_per_step_median"] == pytest.approx(1000 * 5 / row["images_per_s_median"])
    assert row["peak_memory_mib"] is None and row["device"] == "cpu"
    assert row["precision"] == "float32" and row["channels_last"] is False


def test_training_throughput_measures_real_time():
    sleep_s = 0.01
    row = training_throughput(BatchRecorder(sleep_s=sleep_s), 20, input_shape=(8,), num_classes=3,
                              warmup=0, repeats=3, steps_per_repeat=2)
    assert row["ms_per_step_median"] >= 1000 * sleep_s
    assert row["images_per_s_max"] <= 20 / sleep_s


def test_training_throughput_reports_mixed_precision():
    row = training_throughput(tiny_cnn(), 2, input_shape=SHAPE, num_classes=5, warmup=0, repeats=1,
                              mixed_precision=True)
    assert row["precision"] == "bfloat16 autocast"


def test_sweep_keeps_order_interleaves_rounds_and_merges():
    model = BatchRecorder()
    rows = throughput_sweep(model, [3, 1, 2, 1], rounds=2, input_shape=(8,), num_classes=3,
                            warmup=0, repeats=1, progress=False)
    assert [r["batch_size"] for r in rows] == [3, 1, 2], "duplicates dropped, order kept"
    assert model.seen == [3, 1, 2, 2, 1, 3], "second round runs the sizes in reverse"
    assert all(r["rounds"] == 2 and r["timed_steps"] == 2 for r in rows)


def test_sweep_skips_batches_that_do_not_fit_and_goes_on():
    model = BatchRecorder(fail_above=150)
    rows = throughput_sweep(model, [100, 200, 120], rounds=2, input_shape=(8,), num_classes=3,
                            warmup=0, repeats=1, progress=False)
    assert [r["batch_size"] for r in rows] == [100, 120]
    assert model.seen.count(200) == 1, "a batch that ran out of memory is not tried again"


def test_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rounds"):
        throughput_sweep(BatchRecorder(), [1], rounds=0, input_shape=(8,), num_classes=3)
    with pytest.raises(ValueError, match="no batch sizes"):
        throughput_sweep(BatchRecorder(), [], input_shape=(8,), num_classes=3)


def _fake_row(b: int, median: float, lo: float, hi: float) -> dict:
    return {"batch_size": b, "images_per_s_median": median, "images_per_s_min": lo,
            "images_per_s_max": hi, "spread": (hi - lo) / median, "ms_per_step_median": 1000 * b / median,
            "timed_steps": 5, "peak_memory_mib": None}


def test_merge_rows_median_of_medians_and_extremes():
    rows = [_fake_row(8, 100, 90, 110), _fake_row(8, 130, 120, 150), _fake_row(8, 120, 80, 125)]
    merged = _merge_rows(rows)
    assert merged["images_per_s_median"] == 120
    assert (merged["images_per_s_min"], merged["images_per_s_max"]) == (80, 150)
    assert merged["spread"] == pytest.approx(70 / 120)
    assert merged["timed_steps"] == 15 and merged["rounds"] == 3
    assert _merge_rows(rows[:2])["images_per_s_median"] == 115
    assert merged["ms_per_step_median"] == pytest.approx(1000 * 8 / 120)


def _round_row(b: int, per_round: list[float], placebo: bool = False) -> dict:
    row = _fake_row(b, sorted(per_round)[len(per_round) // 2], min(per_round), max(per_round))
    row.update(round_images_per_s=list(per_round), placebo=placebo, label=f"{b} placebo" if placebo else str(b))
    return row


def _sweep_rows(power_factor: float, placebo_noise: float, neighbour_noise: float = 0.01, rounds: int = 8,
                seed: int = 0) -> list[dict]:
    """Rows of a pretend sweep: every round has its own machine speed (drift shared by all entries),
    the power of two is ``power_factor`` times as fast as its neighbours, and each measurement gets
    independent noise (``placebo_noise`` for the placebo entry)."""
    rng = random.Random(seed)
    speed = [1000 * rng.uniform(0.3, 1.0) for _ in range(rounds)]   # a busy machine: big drift between rounds

    def measure(factor: float, noise: float) -> list[float]:
        return [s * factor * (1 + rng.uniform(-noise, noise)) for s in speed]

    return [_round_row(127, measure(1, neighbour_noise)), _round_row(128, measure(power_factor, neighbour_noise)),
            _round_row(129, measure(1, neighbour_noise)), _round_row(128, measure(power_factor, placebo_noise), True)]


def test_verdict_within_noise_when_nothing_differs_despite_drift():
    v = power_of_two_verdict(_sweep_rows(1.0, 0.01))
    assert v["verdict"] == "within noise"
    assert v["effect_low"] <= v["effect"] <= v["effect_high"]
    assert v["placebo_low"] <= v["placebo_gap"] <= v["placebo_high"]
    assert v["noise_floor"] == max(abs(v["placebo_low"]), abs(v["placebo_high"])) < 0.02
    assert [(c["power_of_two"], c["neighbour"]) for c in v["comparisons"]] == [(128, 127), (128, 129)]
    assert v["rounds"] == 8 and v["verdict"] in VERDICTS


@pytest.mark.parametrize("factor, verdict", [(1.10, "powers of two faster"), (0.90, "powers of two slower")])
def test_verdict_directional_only_when_the_interval_clears_the_noise_floor(factor, verdict):
    v = power_of_two_verdict(_sweep_rows(factor, 0.01))
    assert v["verdict"] == verdict
    assert v["effect"] == pytest.approx(factor - 1, abs=0.02)
    # a 3 % effect beside a placebo that differs by up to 8 % by chance: no direction may be claimed
    small = 1 + (factor - 1) * 0.3
    noisy = power_of_two_verdict(_sweep_rows(small, 0.08))
    assert noisy["noise_floor"] > abs(small - 1) and noisy["verdict"] == "within noise"


def test_verdict_too_noisy_when_the_placebo_gap_is_big():
    v = power_of_two_verdict(_sweep_rows(1.3, 0.5), noise_limit=0.10)
    assert v["noise_floor"] > 0.10 and v["verdict"] == "too noisy to tell"
    assert power_of_two_verdict(_sweep_rows(1.3, 0.5), noise_limit=10.0)["verdict"] != "too noisy to tell"


def test_verdict_uses_paired_rounds_not_pooled_values():
    # drift between rounds is +-50 %, far above the 10 % effect: pooled min-max ranges overlap,
    # but within each round the power of two is always 10 % faster
    rows = _sweep_rows(1.10, 0.005)
    ranges_overlap = rows[1]["images_per_s_min"] < rows[0]["images_per_s_max"]
    assert ranges_overlap and power_of_two_verdict(rows)["verdict"] == "powers of two faster"


def test_verdict_rejects_sweeps_it_cannot_judge():
    rows = _sweep_rows(1.0, 0.01)
    with pytest.raises(ValueError, match="placebo"):
        power_of_two_verdict(rows[:3])
    with pytest.raises(ValueError, match="neighbour"):
        power_of_two_verdict([rows[1], rows[3]])
    with pytest.raises(ValueError, match="at least 3"):
        power_of_two_verdict(_sweep_rows(1.0, 0.01, rounds=2))


def test_sweep_placebo_entry_and_shuffled_rounds():
    model = BatchRecorder()
    rows = throughput_sweep(model, [3, 1, 2], rounds=4, placebo=2, shuffle_seed=5, input_shape=(8,),
                            num_classes=3, warmup=0, repeats=1, progress=False)
    assert [r["label"] for r in rows] == ["3", "1", "2", "2 placebo"]
    assert [r["placebo"] for r in rows] == [False, False, False, True]
    assert all(len(r["round_images_per_s"]) == 4 for r in rows)
    assert sorted(model.seen) == sorted([3, 1, 2, 2] * 4)
    orders = [tuple(model.seen[i:i + 4]) for i in range(0, 16, 4)]
    assert len(set(orders)) > 1, "a new order every round"
    again = BatchRecorder()
    throughput_sweep(again, [3, 1, 2], rounds=4, placebo=2, shuffle_seed=5, input_shape=(8,), num_classes=3,
                     warmup=0, repeats=1, progress=False)
    assert again.seen == model.seen, "the order is seeded"
    with pytest.raises(ValueError, match="placebo"):
        throughput_sweep(BatchRecorder(), [1, 2], placebo=4, input_shape=(8,), num_classes=3)


def test_saved_activation_bytes_counts_inputs_not_parameters():
    linear = nn.Linear(4, 3)
    x = torch.randn(10, 4)
    assert saved_activation_bytes(linear, x) == x.nbytes  # Linear saves its input (and its weight, excluded)
    with torch.no_grad():
        assert saved_activation_bytes(linear, x) == 0
    model = tiny_cnn()
    small = saved_activation_bytes(model, torch.randn(4, *SHAPE))
    big = saved_activation_bytes(model, torch.randn(8, *SHAPE))
    assert small > 0 and big == 2 * small, "activation memory grows linearly with the batch"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_defaults_and_peak_memory():
    model = tiny_cnn()
    row = training_throughput(model, 16, input_shape=(1, 8, 8), num_classes=5, device="cuda",
                              warmup=1, repeats=2)
    assert row["channels_last"] is True and row["device"].startswith("cuda")
    expected = "bfloat16 autocast" if torch.cuda.is_bf16_supported(including_emulation=False) else "float32"
    assert row["precision"] == expected
    assert row["peak_memory_mib"] > 0
    big = training_throughput(model, 4096, input_shape=(1, 8, 8), num_classes=5, device="cuda",
                              warmup=1, repeats=1)
    assert big["peak_memory_mib"] > row["peak_memory_mib"], "a bigger batch must need more memory"
