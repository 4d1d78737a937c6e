"""Markdown summary: iterations-to-tol per variant, optimizer and sweep value with fitted
slopes, measured-vs-predicted deviations per theory-bearing cell group, failed cells."""
import math

import numpy as np

from .figures import sweep_label
from .grouping import EXCLUDED


def format_count(value):
    if not math.isfinite(value):
        return "never"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def iteration_cell(row):
    """'11,694 (3/3) lr 0.9': median iterations, seeds converged / total, best tuned values."""
    text = f"{format_count(row['median'])} ({row['converged']}/{row['seeds']})"
    if row["combo"] and row["tried"] > 1:
        text += f" {row['combo']}"
    return text


def slope_cell(slope):
    value, used, total = slope
    if math.isnan(value):
        return f"n/a ({used}/{total} pts)"
    return f"{value:.2f} ({used}/{total} pts)"


def _table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def iterations_tables(best, slopes, sweep_name, metric, tol):
    lines = []
    sweep_values = sorted(v for v in best["sweep"].unique() if not math.isnan(v))
    for variant in sorted(best["variant"].unique()):
        rows = best[best["variant"] == variant]
        lines += ["", f"**{variant}**: median iterations to {metric} <= {tol:g} over seeds (converged/total "
                      "seeds, best tuned value; a seed that never reaches tol counts as +inf)", ""]
        if sweep_values:
            header = ["optimizer"] + [sweep_label(sweep_name, v) for v in sweep_values] + [f"slope vs {sweep_name}"]
            body = []
            for line in sorted(rows["line"].unique()):
                mine = rows[rows["line"] == line].set_index("sweep")
                cells = [iteration_cell(mine.loc[v]) if v in mine.index else "" for v in sweep_values]
                body.append([line] + cells + [slope_cell(slopes[(variant, line)])])
        else:
            header = ["optimizer", "iterations"]
            body = [[r["line"], iteration_cell(r)] for r in rows.sort_values("line").to_dict("records")]
        lines += _table(header, body)
    return lines


def theory_table(groups, sweep_name):
    if not groups:
        return ["", "No cell carries a theory that pairs with an observable "
                    "(components<->d/x, components_y<->y, eigen_coordinates<->gamma): "
                    "figures (c) and (d) were skipped."]
    flag_names = sorted({name for g in groups for name in g["flags"] if name in ("lemma_holds", "budget_ok")})
    header = ["variant", "optimizer", sweep_name or "sweep", "tuned", "cells",
              "max abs(meas - pred)", "final abs(meas - pred)", "max residual"] + flag_names
    body = []
    for g in sorted(groups, key=lambda g: (g["variant"], g["line"], _sortable(g["sweep"]))):
        flags = [("yes" if min(g["flags"][name]) > 0 else "no") if name in g["flags"] else "" for name in flag_names]
        body.append([g["variant"], g["line"], "" if math.isnan(g["sweep"]) else f"{g['sweep']:g}", g["combo"],
                     len(g["curves"]), f"{g['max_dev']:.2e}", f"{g['final_dev']:.2e}",
                     "" if g["max_residual"] is None else f"{g['max_residual']:.2e}"] + flags)
    return ["", "Measured mode coordinates vs the predicted scalar recursions (max over modes, steps "
                "common to observable and theory, and seeds; final = at the last common step):", ""] \
        + _table(header, body)


def _sortable(value):
    return -math.inf if math.isnan(value) else value


def failed_list(frame):
    failed = frame[frame["status"].isin(EXCLUDED)]
    if failed.empty:
        return []
    lines = ["", f"Failed or unfinished cells ({len(failed)}), left out of every figure and table:", ""]
    for row in failed.itertuples():
        message = (row.error or row.stop_reason or "").replace("\n", " ")
        lines.append(f"- `{row.cell_id}` ({row.status}) {row.variant}, {row.line} {row.combo}, seed {row.seed}: {message}")
    return lines


def status_summary(frame):
    counts = frame["status"].value_counts()
    parts = ", ".join(f"{counts[s]} {s}" for s in counts.index)
    seconds = frame["wall_seconds"].to_numpy(dtype=float)
    return (f"{len(frame)} cells ({parts}); cell wall time: total {np.nansum(seconds):.1f} s, "
            f"longest {np.nanmax(seconds) if len(seconds) else 0:.1f} s")


def summary(results, frame, best, slopes, groups, settings, notes):
    lines = [f"# {results.grid_name or 'muonlab results'}: summary", "",
             f"File: `{results.path}`  ", status_summary(frame) + "  "]
    stop = results.stop
    if stop:
        lines.append("Stop rule: " + ", ".join(f"{k} {v}" for k, v in sorted(stop.items())) + "  ")
    lines += [f"{n}  " for n in notes]
    if not best.empty:
        lines += iterations_tables(best, slopes, settings["sweep_name"], settings["metric"], settings["tol"])
    lines += theory_table(groups, settings["sweep_name"])
    lines += failed_list(frame)
    return "\n".join(lines) + "\n"
