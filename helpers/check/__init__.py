"""Every exercise check, named after the learner's function: ``helpers.check.f(f)`` (notebook 00).
Imported here by name from ``nbNN.py``, so Tab lists every exercise and a name used twice is a
visible edit, not a silent override (docs/exercises.md)."""
from __future__ import annotations

from ..exercises import Exercise
from .nb00 import run_on_model_device, to_device
from .nb01 import my_log_softmax, my_stable_softmax, overflow_threshold
from .nb02 import my_convolve2d_unfold, my_output_size, vertical_edge_kernel
from .nb03 import honest_timing, scaled_learning_rate
from .nb04 import adam_update, adamw_update
from .nb05a import my_dog_probability, my_doggy_door_decision
from .nb05b import my_door_model, my_fine_tune_lr
from .nb06 import my_epoch_order, my_snapshot
from .nb07 import my_overfitting_epoch, my_predict_file
from .nb08 import my_assessment_model, my_save_model

__all__ = [
    "to_device", "run_on_model_device",                               # 00
    "overflow_threshold", "my_stable_softmax", "my_log_softmax",      # 01
    "my_convolve2d_unfold", "vertical_edge_kernel", "my_output_size",  # 02
    "honest_timing", "scaled_learning_rate",                          # 03
    "adam_update", "adamw_update",                                    # 04
    "my_doggy_door_decision", "my_dog_probability",                   # 05a
    "my_door_model", "my_fine_tune_lr",                               # 05b
    "my_epoch_order", "my_snapshot",                                  # 06
    "my_overfitting_epoch", "my_predict_file",                        # 07
    "my_assessment_model", "my_save_model",                           # 08
]
CHECKS: dict[str, Exercise] = {name: globals()[name] for name in __all__}

for _name, _check in CHECKS.items():
    if not isinstance(_check, Exercise):
        raise TypeError(f"helpers.check.{_name} is not decorated with @exercise (helpers/check/nbNN.py)")
