"""The four figures of tools/analyze.

(a) convergence.png       metric vs iteration, rows = optimizer lines, columns = variants,
                          one colour per sweep value, median over seeds with a min-max band
(b) iters_vs_<sweep>.png  iterations-to-tol vs the sweep parameter (log-log), fitted slopes
(c) spectral_<variant>.png measured components (markers) vs predicted recursions (lines),
                          and the residual observable, for representative cells
(d) deviation.png         max over modes of |measured - predicted| over time
"""
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 80
MAX_MARKERS = 60  # measured points per mode in (c): enough to read, few enough to see the lines


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "all"


def sweep_label(name, value):
    if name is None or value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{name}={value:g}"


def sweep_colors(values):
    """One viridis colour per sweep value, in order; C0 when there is no sweep (NaN)."""
    finite = sorted({float(v) for v in values if not math.isnan(v)})
    cmap = plt.get_cmap("viridis")
    span = max(len(finite) - 1, 1)
    colors = {v: cmap(0.9 * i / span) for i, v in enumerate(finite)}
    return lambda v: "C0" if math.isnan(v) else colors.get(float(v), "C0")


def line_colors(lines):
    return {line: f"C{i % 10}" for i, line in enumerate(lines)}


def mode_colors(count):
    if count <= 10:
        return [f"C{i}" for i in range(count)]
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def positive(values):
    """Log axes cannot show zeros: they become gaps."""
    values = np.asarray(values, dtype=float)
    return np.where(values > 0, values, np.nan)


def spans_decades(ends):
    """Iteration counts that span orders of magnitude in one panel (GD at kappa 1 vs 1e4)
    need a log-like x axis."""
    ends = [e for e in ends if e > 0]
    return bool(ends) and max(ends) / max(min(ends), 1.0) > 10


def long_run(ends):
    """Spectra recorded on a log schedule over a long run read better on a log-like axis."""
    return bool(ends) and max(ends) > 2000


def set_iteration_axis(ax, ends, symlog):
    """x from step 0 to a little past the last end; symlog (linear up to 10, logarithmic
    beyond) keeps step 0 visible."""
    if symlog:
        ax.set_xscale("symlog", linthresh=10)
    if ends and max(ends) > 0:
        ax.set_xlim(0, max(ends) * (1.6 if symlog else 1.04))
    ax.set_xlabel("iteration" + (" (symlog)" if symlog else ""))


def reach_step(steps, values, tol):
    """Where a curve first reaches tol (its last step if it never does): the panel's x range
    ends there, so one stalled seed does not squeeze every other curve to the left."""
    if tol is not None:
        hits = np.flatnonzero(values <= tol)
        if len(hits):
            return float(steps[hits[0]])
    return float(steps[-1]) if len(steps) else 0.0


def step_function_median(series):
    """Median, min and max over seeds on the union of their steps; a seed that stopped
    (converged) holds its last value."""
    steps = np.unique(np.concatenate([s for s, _ in series]))
    stacked = np.empty((len(series), len(steps)))
    for i, (s, v) in enumerate(series):
        rows = np.clip(np.searchsorted(s, steps, side="right") - 1, 0, len(s) - 1)
        stacked[i] = v[rows]
    return steps, np.median(stacked, axis=0), stacked.min(axis=0), stacked.max(axis=0)


def _grid(rows, cols, width=4.6, height=3.0):
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return fig, axes


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, pil_kwargs={"optimize": True})
    plt.close(fig)


# ---- (a) ---------------------------------------------------------------------------------

def convergence(results, best, metric, tol, sweep_name, path):
    variants = sorted(best["variant"].unique())
    lines = sorted(best["line"].unique())
    color_of = sweep_colors(list(best["sweep"]))
    fig, axes = _grid(len(lines), len(variants))
    for r, line in enumerate(lines):
        for c, variant in enumerate(variants):
            ax = axes[r][c]
            ends = []
            rows = best[(best["line"] == line) & (best["variant"] == variant)].sort_values("sweep")
            for group in rows.itertuples():
                series = [results.trajectory(cid, metric) for cid in group.cell_ids]
                series = [s for s in series if s is not None and len(s[0])]
                if not series:
                    continue
                steps, median, low, high = step_function_median(series)
                color = color_of(group.sweep)
                label = ", ".join(x for x in (sweep_label(sweep_name, group.sweep), group.combo) if x) or line
                ax.plot(steps, positive(median), color=color, lw=1.4, label=label)
                if len(series) > 1:
                    ax.fill_between(steps, positive(low), positive(high), color=color, alpha=0.18, lw=0)
                ends.append(reach_step(steps, median, tol))
            if tol is not None:
                ax.axhline(tol, color="0.4", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_title(f"{line}  |  {variant}", fontsize=9)
            ax.set_ylabel(metric)
            ax.grid(True, which="major", alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=6.5, loc="upper right", framealpha=0.8)
            else:
                ax.text(0.5, 0.5, "no trajectory", ha="center", va="center", transform=ax.transAxes)
            set_iteration_axis(ax, ends, spans_decades(ends))
    tuned = " best tuned parameters per point;" if (best["tried"] > 1).any() else ""
    fig.suptitle(f"{metric} vs iteration: median over seeds, band = min..max;{tuned} dotted: tol", fontsize=10, wrap=True)
    _save(fig, path)


# ---- (b) ---------------------------------------------------------------------------------

def scaling(best, slopes, sweep_name, metric, tol, path):
    variants = sorted(best["variant"].unique())
    lines = sorted(best["line"].unique())
    colors = line_colors(lines)
    fig, axes = _grid(1, len(variants), width=5.6, height=4.4)
    finite = best["median"][np.isfinite(best["median"])]
    top = float(finite.max()) * 3 if len(finite) else 10.0
    for c, variant in enumerate(variants):
        ax = axes[0][c]
        rows = best[best["variant"] == variant]
        for line in lines:
            mine = rows[rows["line"] == line].sort_values("sweep")
            if mine.empty:
                continue
            slope, used, total = slopes[(variant, line)]
            slope_text = f"slope {slope:.2f}" if not math.isnan(slope) else "slope n/a"
            ok = mine[np.isfinite(mine["median"])]
            lower = ok["median"] - ok["min"]
            upper = np.where(np.isfinite(ok["max"]), ok["max"] - ok["median"], 0.0)
            ax.errorbar(ok["sweep"], ok["median"], yerr=[lower, upper], color=colors[line], marker="o",
                        ms=4, lw=1.3, capsize=2, label=f"{line}: {slope_text} ({used}/{total} pts)")
            missed = mine[~np.isfinite(mine["median"])]
            if len(missed):
                ax.plot(missed["sweep"], [top] * len(missed), ls="none", marker="x", ms=7, color=colors[line],
                        label=f"{line}: median never reached tol")
        _reference_slopes(ax, rows)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(sweep_name)
        ax.set_ylabel(f"iterations to {metric} <= {tol:g}")
        ax.set_title(variant, fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"iterations to tol vs {sweep_name}: median over seeds (bars: min..max), best lr per point",
                 fontsize=10, wrap=True)
    _save(fig, path)


def _reference_slopes(ax, rows):
    """Dotted slope-0 and slope-1 guides through the lowest finite median at the smallest
    sweep value, so the eye can compare each line's growth."""
    ok = rows[np.isfinite(rows["median"]) & (rows["sweep"] > 0)]
    if ok.empty:
        return
    x0, x1 = float(ok["sweep"].min()), float(rows["sweep"].max())
    y0 = float(ok[ok["sweep"] == x0]["median"].min())
    xs = np.array([x0, x1])
    ax.plot(xs, [y0, y0], color="0.55", ls=":", lw=1.1, label="reference slope 0")
    ax.plot(xs, y0 * xs / x0, color="0.3", ls="--", lw=1.1, label="reference slope 1")


# ---- (c) ---------------------------------------------------------------------------------

def spectral(representatives, sweep_name, path):
    """representatives: list of dicts with keys title, comparison."""
    fig, axes = _grid(len(representatives), 2, width=5.4, height=3.4)
    for r, rep in enumerate(representatives):
        comparison = rep["comparison"]
        ax = axes[r][0]
        last = _plot_components(ax, comparison)
        ax.set_title(f"{rep['title']}\n{pair_legend(comparison)}", fontsize=8)
        ax.set_ylabel("mode coordinate")
        ax_res = axes[r][1]
        if comparison.residual is not None:
            name, steps, values = comparison.residual
            ax_res.plot(steps, positive(values), color="k", lw=1.2, marker=".", ms=3)
            ax_res.set_yscale("log")
            ax_res.set_ylabel(name)
            last = max(last, float(steps[-1]) if len(steps) else 0.0)
            if not np.isfinite(positive(values)).any():
                ax_res.text(0.5, 0.5, f"{name} = 0 throughout", ha="center", va="center", transform=ax_res.transAxes)
        else:
            ax_res.text(0.5, 0.5, "no residual observable", ha="center", va="center", transform=ax_res.transAxes)
        ax_res.set_title(f"{comparison.residual[0] if comparison.residual else 'residual'}: "
                         "distance from the decoupled manifold", fontsize=8.5)
        for a in (ax, ax_res):
            set_iteration_axis(a, [last], long_run([last]))
            a.grid(True, alpha=0.3)
    fig.suptitle("lines: predicted scalar recursions (theory); markers: measured; one colour per mode", fontsize=10, wrap=True)
    _save(fig, path)


def _plot_components(ax, comparison):
    styles = [("-", "o"), ("--", "s")]
    last = 0.0
    all_positive = all((p[3] > 0).all() and (p[4] > 0).all() for p in comparison.pairs)
    modes = max(p[3].shape[1] for p in comparison.pairs)
    colors = mode_colors(modes)
    for k, (obs_name, theory_name, steps, measured, predicted) in enumerate(comparison.pairs):
        line_style, marker = styles[k % len(styles)]
        every = max(1, int(math.ceil(len(steps) / MAX_MARKERS)))
        for i in range(measured.shape[1]):
            ax.plot(steps, predicted[:, i], color=colors[i], ls=line_style, lw=1.1,
                    label=f"mode {i + 1}" if k == 0 and modes <= 10 else None)
            ax.plot(steps[::every], measured[::every, i], ls="none", marker=marker, ms=3.2, mfc="none",
                    mew=0.8, color=colors[i])
        last = max(last, float(steps[-1]))
    if all_positive:
        ax.set_yscale("log")
    if modes <= 10:
        ax.legend(fontsize=6, ncol=2, loc="best", framealpha=0.7)
    return last


def pair_legend(comparison):
    """'components (o) vs d (-)': which measured series (marker) goes with which prediction (line)."""
    styles = [("-", "o"), ("--", "s")]
    return ", ".join(f"{p[0]} ({styles[k % 2][1]}) vs {p[1]} ({styles[k % 2][0]})"
                     for k, p in enumerate(comparison.pairs))


# ---- (d) ---------------------------------------------------------------------------------

def deviation(groups, sweep_name, path):
    """groups: list of dicts with keys variant, line, sweep, combo, curves [(steps, dev)]."""
    variants = sorted({g["variant"] for g in groups})
    lines = sorted({g["line"] for g in groups})
    color_of = sweep_colors([g["sweep"] for g in groups])
    fig, axes = _grid(len(lines), len(variants))
    for r, line in enumerate(lines):
        for c, variant in enumerate(variants):
            ax = axes[r][c]
            last_steps = []
            mine = sorted((g for g in groups if g["line"] == line and g["variant"] == variant),
                          key=lambda g: g["sweep"] if not math.isnan(g["sweep"]) else 0)
            for g in mine:
                label = ", ".join(x for x in (sweep_label(sweep_name, g["sweep"]), g["combo"]) if x) or line
                for j, (steps, dev) in enumerate(g["curves"]):
                    ax.plot(steps, positive(dev), color=color_of(g["sweep"]), lw=1.1, alpha=0.9,
                            label=label if j == 0 else None)
                    last_steps.append(float(steps[-1]) if len(steps) else 0.0)
            ax.set_yscale("log")
            ax.set_title(f"{line}  |  {variant}", fontsize=9)
            ax.set_ylabel("max_i |measured - predicted|")
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=6.5, loc="lower right", framealpha=0.8)
            else:
                ax.text(0.5, 0.5, "no theory", ha="center", va="center", transform=ax.transAxes)
            set_iteration_axis(ax, last_steps, spans_decades(last_steps) or long_run(last_steps))
    fig.suptitle("deviation of the measured mode coordinates from the scalar recursions "
                 "(max over modes; one line per seed; zeros not shown)", fontsize=10, wrap=True)
    _save(fig, path)
