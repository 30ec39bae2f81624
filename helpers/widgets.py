"""Every ipywidgets panel of the course (notebooks 01, 02, 04, 05b), and the one way they write into an
``Output``. The widgets only collect input and call back, so that the callback can be called (and
checked) without a browser (ARCHITECTURE.md, "Widgets")."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from IPython.utils.capture import capture_output
from matplotlib.figure import Figure
from torch.utils.data import TensorDataset

from .door_data import SPLITS, DoorData
from .uploads import FeatureCache, save_uploads

CUSTOM = "custom"


class KernelEditor:
    """A preset dropdown above a grid of number boxes; see :func:`kernel_editor` (notebook 02).
    ``dropdown`` (the presets and ``custom_label``), ``cells`` (rows of ``FloatText``),
    ``widget``."""

    def __init__(self, presets: Mapping[str, torch.Tensor | Sequence[Sequence[float]]],
                 on_change: Callable[[torch.Tensor], object], *, initial: str | None = None,
                 custom_label: str = CUSTOM, step: float = 0.1, cell_width: str = "5em") -> None:
        if not presets:
            raise ValueError("kernel_editor needs at least one preset kernel, got none")
        self.presets = {name: _as_kernel(name, values) for name, values in presets.items()}
        shapes = {name: tuple(k.shape) for name, k in self.presets.items()}
        first_name = next(iter(shapes))
        for name, shape in shapes.items():
            if shape != shapes[first_name]:
                raise ValueError(f"every preset must have the same shape: {first_name!r} is "
                                 f"{shapes[first_name]} but {name!r} is {shape}")
        if custom_label in self.presets:
            raise ValueError(f"a preset may not be called {custom_label!r}: that name marks an edited "
                             "kernel; rename the preset or pass another custom_label")
        initial = first_name if initial is None else initial
        if initial not in self.presets:
            raise ValueError(f"initial preset {initial!r} is not one of {list(self.presets)}")
        self.custom_label = custom_label
        self.on_change = on_change
        self._filling = False  # True while a preset is written into the cells

        rows, cols = shapes[first_name]
        start = self.presets[initial]
        self.cells = [[widgets.FloatText(value=float(start[r, c]), step=step,
                                         layout=widgets.Layout(width=cell_width))
                       for c in range(cols)] for r in range(rows)]
        # Sized to the grid below it and kept from shrinking inside an HBox: a squeezed Dropdown loses its
        # border and arrow (issue 14).
        grid_width = f"calc({cols} * {cell_width})"
        self.dropdown = widgets.Dropdown(options=[*self.presets, custom_label], value=initial,
                                         description="preset", style={"description_width": "3.5em"},
                                         layout=widgets.Layout(width=grid_width, min_width="12em"))
        for row in self.cells:
            for cell in row:
                cell.observe(self._cell_edited, names="value")
        self.dropdown.observe(self._preset_chosen, names="value")
        grid = widgets.GridBox([cell for row in self.cells for cell in row],
                               layout=widgets.Layout(grid_template_columns=f"repeat({cols}, {cell_width})"))
        self.widget = widgets.VBox([self.dropdown, grid], layout=widgets.Layout(flex="0 0 auto", overflow="visible"))

    def kernel(self) -> torch.Tensor:
        """Return the numbers now in the grid as a float32 tensor of the presets' shape (notebook 02)."""
        return torch.tensor([[cell.value for cell in row] for row in self.cells], dtype=torch.float32)

    def refresh(self) -> None:
        """Call ``on_change`` once with the current kernel, e.g. to fill a panel at start (notebook 02)."""
        self.on_change(self.kernel())

    def _preset_chosen(self, change) -> None:
        name = change["new"]
        if name == self.custom_label:  # chosen by hand or set by an edit: keep the numbers as they are
            return
        self._filling = True
        try:
            values = self.presets[name]
            for r, row in enumerate(self.cells):
                for c, cell in enumerate(row):
                    cell.value = float(values[r, c])
        finally:
            self._filling = False
        self.refresh()

    def _cell_edited(self, change) -> None:
        if self._filling:
            return
        self.dropdown.value = self.custom_label  # an edited kernel is no longer the preset
        self.refresh()


def _as_kernel(name: str, values) -> torch.Tensor:
    kernel = torch.as_tensor(values, dtype=torch.float32)
    if kernel.ndim != 2 or kernel.numel() == 0:
        raise ValueError(f"preset {name!r} must be a non-empty 2-D grid of numbers, "
                         f"got shape {tuple(kernel.shape)}")
    return kernel


def kernel_editor(presets: Mapping[str, torch.Tensor | Sequence[Sequence[float]]],
                  on_change: Callable[[torch.Tensor], object], *, initial: str | None = None,
                  custom_label: str = CUSTOM, step: float = 0.1) -> KernelEditor:
    """Return a :class:`KernelEditor`: a preset dropdown and a grid of number boxes (notebook 02).
    A preset or an edit (by hand or in code) calls ``on_change(kernel)`` once; nothing at
    creation (:meth:`KernelEditor.refresh`). The rules, the errors: ARCHITECTURE.md, "Widgets"."""
    return KernelEditor(presets, on_change, initial=initial, custom_label=custom_label, step=step)


def captured_outputs(draw: Callable[[], object]) -> tuple[dict, ...]:
    """Return what ``draw()`` prints and shows, as output dicts, unpublished (notebooks 02, 04).
    Assign it to an ``Output``'s ``outputs``: output published into a widget while a cell runs
    can stall nbclient (jupyter/nbclient issue 312), which runs the notebooks for ``make run``."""
    with capture_output() as captured:
        draw()
    outputs: list[dict] = []
    for name in ("stdout", "stderr"):
        text = getattr(captured, name)
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    for rich in captured.outputs:
        outputs.append({"output_type": "display_data", "data": rich.data, "metadata": rich.metadata or {}})
    return tuple(outputs)


def figure_output(draw: Callable[..., Figure]) -> tuple[widgets.Output, Callable[..., Figure]]:
    """Return ``(panel, redraw)``: an ``Output`` widget and a function redrawing it (notebook 02).
    ``redraw(*args, **kwargs)`` shows the figure ``draw`` returns in the panel, closes it (or the
    inline backend shows it again below the cell) and returns it: a widget callback."""
    panel = widgets.Output()

    def redraw(*args, **kwargs) -> Figure:
        fig = draw(*args, **kwargs)
        if not isinstance(fig, Figure):
            raise TypeError(f"the draw function must return a matplotlib Figure, got {type(fig).__name__}; "
                            "end it with `return fig`")
        panel.outputs = captured_outputs(lambda: display(fig))  # not `with panel:`, see captured_outputs
        plt.close(fig)
        return fig

    return panel, redraw


def temperature_panel(draw: Callable[[float], Figure], *, value: float = 1.0, low: float = 0.01,
                      high: float = 100.0) -> widgets.VBox:
    """Return a log-scale temperature slider above the chart ``draw(T)`` (notebook 01).
    Each move replaces the chart in ``panel.output`` (one chart, none below the cell); code moves
    ``panel.slider`` as a learner would. ``ValueError`` unless ``0 < low <= value <= high``."""
    if not 0 < low <= value <= high:
        raise ValueError(f"need 0 < low <= value <= high, got low={low}, value={value}, high={high}")
    output, redraw = figure_output(draw)
    slider = widgets.FloatLogSlider(value=value, base=10, min=float(np.log10(low)), max=float(np.log10(high)),
                                    step=0.05, description="T", readout_format=".3g", continuous_update=False,
                                    layout=widgets.Layout(width="28em"))
    slider.observe(lambda change: redraw(change["new"]), names="value")
    redraw(value)
    panel = widgets.VBox([slider, output])
    panel.slider, panel.output = slider, output
    return panel


BETA2_NICE = (0.95, 0.995, 0.9995)  # round values a learner reads about, kept on the beta2 slider


def beta2_options(beta2: float = 0.999, low_decades: float = 1.0, high_decades: float = 4.0,
                  per_decade: int = 10) -> list[tuple[str, float]]:
    """Return the (label, value) stops of the beta2 slider, even in log10(1 - beta2) (notebook 04).
    A linear slider gives 0.999 and 0.9999 a few pixels; stops are ``1 - 10**-k``, ``BETA2_NICE``
    and ``beta2`` replacing the nearest stop (or added); labels with five decimals."""
    if not 0 < beta2 < 1:
        raise ValueError(f"beta2 must be between 0 and 1 (exclusive), got {beta2}")
    steps = round((high_decades - low_decades) * per_decade)
    stops = {i: round(1 - 10 ** -(low_decades + i / per_decade), 8) for i in range(steps + 1)}
    extra = []
    for v in (*BETA2_NICE, beta2):
        position = (-math.log10(1 - v) - low_decades) * per_decade
        nearest = round(position)
        if abs(position - nearest) < 1 / 3 and nearest in stops:
            stops[nearest] = v                       # a round value takes the place of the stop next to it
        else:
            extra.append(v)
    return [(f"{v:.5f}", v) for v in sorted({*stops.values(), *extra})]


def optimizer_panel(redraw: Callable[..., object], *, lr: float = 1e-2,
                    lr_range: tuple[float, float] = (1e-4, 1.0), beta1: float = 0.9,
                    beta2: float = 0.999, choices: Mapping[str, Sequence[str]] | None = None,
                    width: str = "480px") -> widgets.VBox:
    """Return a panel of lr, beta1, beta2 sliders calling ``redraw`` on each change (notebook 04).
    ``redraw(lr=..., beta1=..., beta2=..., **choices)`` draws into the output area; beta2 moves
    in even steps of log10(1 - beta2) (ARCHITECTURE.md, "Widgets")."""
    lo, hi = lr_range
    if not 0 < lo < hi:
        raise ValueError(f"lr_range must be (low, high) with 0 < low < high, got {lr_range}")
    if not lo <= lr <= hi:
        raise ValueError(f"lr={lr} is outside lr_range={lr_range}")
    style = {"description_width": "60px"}
    layout = {"width": width}
    controls: dict[str, widgets.ValueWidget] = {}
    for name, options in (choices or {}).items():
        options = list(options)
        if not options:
            raise ValueError(f"choices[{name!r}] is empty: give at least one option")
        controls[name] = widgets.Dropdown(options=options, value=options[0], description=name, style=style,
                                          layout=layout)
    controls["lr"] = widgets.FloatLogSlider(value=lr, base=10, min=np.log10(lo), max=np.log10(hi),
                                            step=0.05, description="lr", readout_format=".1e",
                                            continuous_update=False, style=style, layout=layout)
    controls["beta1"] = widgets.FloatSlider(value=beta1, min=0.0, max=0.99, step=0.01,
                                            description="beta1", readout_format=".2f",
                                            continuous_update=False, style=style, layout=layout)
    controls["beta2"] = widgets.SelectionSlider(options=beta2_options(beta2), value=beta2, description="beta2",
                                                continuous_update=False, style=style, layout=layout)
    out = widgets.Output()

    def values() -> dict[str, object]:
        return {name: control.value for name, control in controls.items()}

    def on_change(_change=None) -> None:
        out.outputs = captured_outputs(lambda: redraw(**values()))

    for control in controls.values():
        control.observe(on_change, names="value")
    out.outputs = captured_outputs(lambda: redraw(**values()))
    panel = widgets.VBox([widgets.VBox(list(controls.values())), out])
    panel.controls = controls
    return panel


class UploadPanel:
    """An ipywidgets panel: upload photos into ``bo`` or ``not_bo``, then retrain (notebook 05b).
    ``panel.widget`` is displayed; ``panel.add(value)`` and ``panel.retrain()`` also run without
    a browser and return the text they show (ARCHITECTURE.md, "Widgets")."""

    def __init__(self, root: Path | str, retrain: Callable[..., str], *,
                 build: Callable[[], DoorData] | None = None,
                 features: Callable[[list[Path]], torch.Tensor] | None = None):
        if (build is None) != (features is None):
            raise ValueError("pass build= and features= together (or neither)")
        self.root = Path(root)
        self._retrain = retrain
        self._build = build
        self.features = FeatureCache(features) if features is not None else None
        wide = {"style": {"description_width": "initial"}}
        # wide enough for "Choose photos (12)": the file count is part of the button's text
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description="Choose photos",
                                         layout=widgets.Layout(width="auto", min_width="220px"))
        self.label = widgets.ToggleButtons(options=[("Bo", "bo"), ("not Bo", "not_bo")], value="bo",
                                           description="These are:", **wide)
        self.split = widgets.ToggleButtons(options=[("training", "train"), ("validation", "valid")],
                                           value="train", description="Use for:", **wide)
        self.add_button = widgets.Button(description="Add photos", icon="plus")
        self.retrain_button = widgets.Button(description="Retrain", icon="refresh", button_style="primary",
                                             layout=widgets.Layout(width="auto", min_width="140px"))
        self.output = widgets.Output()
        self.last_saved: list[Path] = []
        self.busy = False
        self.add_button.on_click(lambda _: self.add())
        self.retrain_button.on_click(lambda _: self.retrain())
        self.widget = widgets.VBox([self.upload, self.label, self.split,
                                    widgets.HBox([self.add_button, self.retrain_button]), self.output])

    def _say(self, text: str) -> str:
        # appended as the stream dict captured_outputs makes: the panel assigns outputs, never prints
        self.output.outputs = (*self.output.outputs, {"output_type": "stream", "name": "stdout", "text": text + "\n"})
        return text

    def add(self, value: Sequence[Mapping] | Mapping | None = None) -> str:
        """Save the uploaded files (``value``, default: the upload widget's) and return a report."""
        value = self.upload.value if value is None else value
        saved, problems = save_uploads(value, self.label.value, self.root, split=self.split.value)
        lines = [f"added {len(saved)} photo(s) to {self.split.value}/{self.label.value}"]
        lines += [f"  + {p.name}" for p in saved]
        lines += [f"  ✗ {name}: {why}" for name, why in problems]
        self.last_saved = saved
        if value is self.upload.value:
            self.upload.value = ()
        return self._say("\n".join(lines))

    def retrain(self) -> str:
        """Retrain (see the class) and return (and show) the report; a second call while one runs is refused.

        While it runs the button is disabled and reads "Retraining…", and the panel says so.
        """
        if self.busy:
            return self._say("already retraining: wait until it has finished")
        self.busy, self.retrain_button.disabled = True, True
        self.retrain_button.description, self.retrain_button.icon = "Retraining…", "hourglass-half"
        self._say("retraining: features of photos not seen yet, then a fresh head (the button comes back when done)…")
        try:
            return self._say(self._run_retrain())
        finally:
            self.busy, self.retrain_button.disabled = False, False
            self.retrain_button.description, self.retrain_button.icon = "Retrain", "refresh"

    def _run_retrain(self) -> str:
        if self._build is None:
            return str(self._retrain())
        data = self._build()
        sets = {}
        for split in SPLITS:
            features = self.features([p for p, _ in data.items[split]])
            labels = torch.tensor([y for _, y in data.items[split]], device=features.device)
            sets[split] = TensorDataset(features, labels)
        c = data.counts()
        lines = [str(self._retrain(sets["train"], sets["valid"])),
                 f"{len(sets['train'])} training and {len(sets['valid'])} validation photos "
                 f"({len(data.yours)} of them yours): train {c['train']}, valid {c['valid']}"]
        if data.problems:
            lines.append(f"{len(data.problems)} files not used:")
            lines += [f"  {p}: {why}" for p, why in data.problems]
        return "\n".join(lines)

    def reset(self) -> None:
        """Return the panel to how it starts: Bo, training, nothing said, nothing just saved (notebook 05b's demo)."""
        self.label.value, self.split.value = "bo", "train"
        self.output.outputs = ()
        self.last_saved = []
