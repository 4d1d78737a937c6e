"""Turning a table of cells into the groups an experiment is read by.

* variant: the problem parameters that vary across the file, except the sweep parameter
  (e.g. symmetric=true / symmetric=false); a parameter that is a function of the others
  (m, when it only changes together with symmetric) is left out of the label.
* line: an optimizer and its varying parameters except the tuned ones (lr by default);
  Muon's orthogonalizer is always named.
* combo: the tuned parameters' values (e.g. lr 0.3). For each variant, line and sweep
  value the combo with the fewest median iterations-to-tol across seeds is kept.
"""
import math

import numpy as np
import pandas as pd

from .vocabulary import FAILED, RUNNING

# Cells without a result: failed in error, or still "running" in a file whose run was killed.
EXCLUDED = (FAILED, RUNNING)


def format_value(value):
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def varying(frame, columns):
    """The columns among `columns` that take more than one value in `frame`."""
    out = []
    for column in columns:
        if column in frame and frame[column].map(repr).nunique(dropna=False) > 1:
            out.append(column)
    return out


def _partition(frame, columns):
    if not columns:
        return np.zeros(len(frame), dtype=int)
    # Column by column with Series.map: DataFrame.applymap is deprecated from pandas 2.1 and
    # DataFrame.map, its replacement, does not exist before it (Debian 12 has 1.5).
    keys = frame[columns].apply(lambda column: column.map(repr)).agg("|".join, axis=1)
    return pd.factorize(keys)[0]


def _label_priority(frame, column):
    """Booleans and names describe a variant better than the numbers that follow from them;
    an orthogonalizer's name says more than its coefficients."""
    if column == "optimizer.orthogonalizer":
        return (-1, column)
    sample = frame[column].dropna()
    numeric = len(sample) > 0 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in sample)
    return (1 if numeric else 0, column)


def essential_columns(frame, columns):
    """Drop each column whose values are determined by the remaining ones (same partition)."""
    kept = sorted(columns, key=lambda c: _label_priority(frame, c))
    reference = _partition(frame, kept)
    for column in reversed(list(kept)):
        trial = [c for c in kept if c != column]
        if trial and np.array_equal(_partition(frame, trial), reference):
            kept = trial
    return kept


def problem_columns(frame):
    return [c for c in frame.columns if c.startswith("problem.")]


def optimizer_columns(frame):
    return [c for c in frame.columns if c.startswith("optimizer.")]


def resolve_sweep(frame, sweep):
    """'kappa' -> 'problem.kappa' (or optimizer.kappa); None when absent or constant."""
    if not sweep:
        return None
    for candidate in (sweep, f"problem.{sweep}", f"optimizer.{sweep}"):
        if candidate in frame and len(varying(frame, [candidate])) == 1:
            return candidate
    return None


def short_name(column):
    return column.split(".", 1)[1] if "." in column else column


def add_labels(frame, sweep_column, tuned):
    """Adds columns variant, line, combo (strings) and sweep (float or NaN)."""
    frame = frame.copy()
    candidates = [c for c in problem_columns(frame) if c != sweep_column]
    if frame["problem"].nunique() > 1:
        candidates = ["problem"] + candidates
    variant_columns = essential_columns(frame, varying(frame, candidates))
    frame["variant"] = frame.apply(
        lambda row: ", ".join(f"{short_name(c)}={format_value(row[c])}" for c in variant_columns) or "all", axis=1)

    tuned_columns = [f"optimizer.{t}" for t in tuned]
    frame["line"] = ""
    frame["combo"] = ""
    for _, members in frame.groupby("optimizer", sort=False):
        columns = [c for c in optimizer_columns(members) if c not in tuned_columns and c != sweep_column]
        line_columns = essential_columns(members, varying(members, columns))
        combo_columns = varying(members, [c for c in tuned_columns if c in members])
        for index, row in members.iterrows():
            frame.at[index, "line"] = line_label(row, line_columns)
            frame.at[index, "combo"] = " ".join(f"{short_name(c)} {format_value(row[c])}" for c in combo_columns)
    frame["sweep"] = frame[sweep_column].astype(float) if sweep_column else np.nan
    return frame


def line_label(row, line_columns):
    label = str(row["optimizer"])
    orthogonalizer = row.get("optimizer.orthogonalizer")
    extras = [f"{short_name(c)}={format_value(row[c])}" for c in line_columns if c != "optimizer.orthogonalizer"]
    if isinstance(orthogonalizer, str) and orthogonalizer:
        label += f" ({orthogonalizer})"
    if extras:
        label += " " + " ".join(extras)
    return label


# ---- iterations to tolerance ---------------------------------------------------------------

def iterations_to_tol(results, frame, metric, tol):
    """Adds column iters (float; inf = never reached; NaN = failed cell) and returns
    (frame, note). The /index column iters_to_tol is exact (the core checks every step);
    it is used when metric and tol are the grid's stop rule. Otherwise the first recorded
    trajectory step at or below tol is used, which is only as fine as record.every."""
    frame = frame.copy()
    stop_metric = results.stop.get("metric", "rel_error")
    stop_tol = results.stop.get("tol")
    exact = stop_tol is not None and metric == stop_metric and math.isclose(float(stop_tol), tol, rel_tol=1e-12)
    values = []
    for row in frame.itertuples():
        if row.status in EXCLUDED:
            values.append(np.nan)
        elif exact:
            values.append(float(row.iters_to_tol) if row.iters_to_tol >= 0 else math.inf)
        else:
            values.append(first_step_below(results.trajectory(row.cell_id, metric), tol))
    frame["iters"] = values
    if exact:
        note = f"iterations to {metric} <= {tol:g}: exact, from /index iters_to_tol"
    else:
        note = (f"iterations to {metric} <= {tol:g}: first recorded trajectory step (the grid stops at "
                f"{stop_metric} <= {stop_tol}); exact only when every step is recorded")
    return frame, note


def first_step_below(series, tol):
    if series is None:
        return math.inf
    steps, values = series
    hits = np.flatnonzero(values <= tol)
    return float(steps[hits[0]]) if len(hits) else math.inf


# ---- best tuned combo per (variant, line, sweep) -----------------------------------------

def select_best(frame):
    """One row per (variant, line, sweep value): the combo with the fewest median
    iterations-to-tol over seeds (never reached counts as +inf; ties go to more converged
    seeds, then to the lower median final metric). Failed and unfinished cells take no part."""
    usable = frame[~frame["status"].isin(EXCLUDED)]
    rows = []
    for key, members in usable.groupby(["variant", "line", "sweep"], sort=True, dropna=False):
        candidates = []
        for combo, runs in members.groupby("combo", sort=True):
            iters = runs["iters"].to_numpy(dtype=float)
            candidates.append({
                "variant": key[0], "line": key[1], "sweep": key[2], "combo": combo,
                "median": float(np.median(iters)),
                "converged": int(np.isfinite(iters).sum()), "seeds": len(iters),
                "min": float(np.min(iters)), "max": float(np.max(iters)),
                "final_metric": float(np.median(runs["final_metric"].to_numpy(dtype=float))),
                "cell_ids": list(runs.sort_values("seed")["cell_id"]),
                "tried": members["combo"].nunique(),
            })
        best = min(candidates, key=lambda c: (c["median"], -c["converged"], _nan_last(c["final_metric"])))
        rows.append(best)
    return pd.DataFrame(rows)


def _nan_last(value):
    return math.inf if math.isnan(value) else value


def fit_slopes(best):
    """Least-squares slope of log10(median iters) vs log10(sweep) per (variant, line), over
    sweep values whose median is finite. Returns {(variant, line): (slope or NaN, used, total)}."""
    slopes = {}
    for (variant, line), rows in best.groupby(["variant", "line"], sort=False):
        rows = rows[np.isfinite(rows["sweep"]) & (rows["sweep"] > 0)]
        usable = rows[np.isfinite(rows["median"]) & (rows["median"] > 0)]
        slope = math.nan
        if usable["sweep"].nunique() >= 2:
            slope = float(np.polyfit(np.log10(usable["sweep"]), np.log10(usable["median"]), 1)[0])
        slopes[(variant, line)] = (slope, len(usable), len(rows))
    return slopes
