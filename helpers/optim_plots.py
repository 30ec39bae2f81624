"""Plotting optimizer trajectories on 2-D functions (notebook 04; sliders: widgets.optimizer_panel).
The optimizers themselves are teaching code and live in the notebook; this draws what they did."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

Function2D = Callable[[np.ndarray, np.ndarray], np.ndarray]
LINESTYLES = ("-", "--", "-.", ":")  # paths that coincide (SGD and momentum at a saddle) stay visible


def _window_mask(path: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float]) -> np.ndarray:
    """Return a boolean mask of the points of ``path`` (N×2) that are finite and inside the window."""
    finite = np.isfinite(path).all(axis=1)
    with np.errstate(invalid="ignore"):
        inside = ((path[:, 0] >= xlim[0]) & (path[:, 0] <= xlim[1])
                  & (path[:, 1] >= ylim[0]) & (path[:, 1] <= ylim[1]))
    return finite & inside


def visible_prefix(path: np.ndarray, xlim: tuple[float, float], ylim: tuple[float, float]) -> np.ndarray:
    """Return the points of ``path`` (N×2) until one is not finite or out of view (notebook 04).
    A diverging optimizer's huge coordinates would stretch the axes until the contours are
    unreadable."""
    path = np.asarray(path, dtype=float)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"a trajectory must be an N×2 array of (x, y) points, got shape {path.shape}")
    mask = _window_mask(path, xlim, ylim)
    if mask.all():
        return path
    return path[:int(np.argmin(mask))]


def contour_paths(f: Function2D, paths: Mapping[str, np.ndarray], *, xlim: tuple[float, float],
                  ylim: tuple[float, float], ax: Axes | None = None, title: str = "",
                  minima: Sequence[tuple[float, float]] = (), n_levels: int = 25,
                  resolution: int = 200) -> Axes:
    """Return the axes with the contours of ``f`` and one line per path in ``paths`` (notebook 04).
    Levels at quantiles of ``f`` keep valleys readable at any scale; a path leaving the window is
    cut there ("(left the plot)"); line styles cycle so that coinciding paths stay visible."""
    if not paths:
        raise ValueError("contour_paths got no trajectories to draw")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = np.asarray(f(X, Y), dtype=float)
    levels = np.unique(np.quantile(Z[np.isfinite(Z)], np.linspace(0.0, 1.0, n_levels)))
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.7, alpha=0.8)
    for i, (label, path) in enumerate(paths.items()):
        full = np.asarray(path, dtype=float)
        shown = visible_prefix(full, xlim, ylim)
        suffix = "" if len(shown) == len(full) else " (left the plot)"
        if len(shown) == 0:
            ax.plot([], [], label=label + suffix)
            continue
        (line,) = ax.plot(shown[:, 0], shown[:, 1], LINESTYLES[i % len(LINESTYLES)], lw=1.5,
                          label=label + suffix)
        ax.plot(shown[-1, 0], shown[-1, 1], "o", ms=5, color=line.get_color())
    starts = [np.asarray(p, dtype=float)[0] for p in paths.values() if len(p)]
    if starts:
        ax.plot(*starts[0], "ks", ms=7, label="start")
    for i, (mx, my) in enumerate(minima):
        ax.plot(mx, my, "r*", ms=12, label="minimum" if i == 0 else None)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set(title=title, xlabel="x", ylabel="y")
    ax.legend(fontsize=7, loc="best")
    return ax
