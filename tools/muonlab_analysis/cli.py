"""tools/analyze OUT.h5 [--metric M] [--tol T] [--sweep P] [--tune lr,...] [--outdir DIR]

Turns a result file into figures and a markdown summary (printed, and written to
DIR/summary.md; DIR defaults to <OUT stem>_figures next to the file)."""
import argparse
import math
import os
import sys

import numpy as np

from . import figures, grouping, report, theory
from .results import open_result


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="tools/analyze",
        description="Figures and a markdown summary from a muonlab result file: (a) metric vs iteration, "
                    "(b) iterations-to-tol vs the sweep parameter with fitted log-log slopes, (c) measured "
                    "spectral coordinates vs the problem's theory, (d) their deviation over time.")
    parser.add_argument("file", nargs="?", help="result file written by `muonlab run`")
    parser.add_argument("--metric", help="trajectory column to converge (default: the grid's stop metric)")
    parser.add_argument("--tol", type=float, help="tolerance on the metric (default: the grid's stop tol)")
    parser.add_argument("--sweep", default="kappa",
                        help="parameter on the x axis of the scaling figure (problem.<p> or optimizer.<p>; "
                             "a bare name is looked up in both; default kappa; 'none' to skip)")
    parser.add_argument("--tune", default="lr",
                        help="comma-separated optimizer parameters tuned per sweep value: the value with the "
                             "fewest median iterations-to-tol is kept (default lr)")
    parser.add_argument("--outdir", help="where figures and summary.md go (default <file stem>_figures)")
    parser.add_argument("--self-test", action="store_true",
                        help="analyse a small synthetic file with known answers and check them")
    args = parser.parse_args(argv)
    if not args.self_test and not args.file:
        parser.error("a result file is required (or --self-test)")
    return args


def default_outdir(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.join(os.path.dirname(os.path.abspath(path)), f"{stem}_figures")


def theory_groups(results, best):
    """For each selected (variant, line, sweep, combo) whose cells carry theory: the
    per-seed deviation curves and their extremes."""
    groups = []
    for row in best.itertuples():
        comparisons = [(cid, theory.compare(results, cid)) for cid in row.cell_ids]
        comparisons = [(cid, c) for cid, c in comparisons if c is not None]
        if not comparisons:
            continue
        curves = [c.deviation() for _, c in comparisons]
        residuals = [float(np.nanmax(c.residual[2])) for _, c in comparisons
                     if c.residual is not None and len(c.residual[2])]
        flags = {}
        for _, c in comparisons:
            for name, value in c.flags.items():
                flags.setdefault(name, []).append(value)
        groups.append({
            "variant": row.variant, "line": row.line, "sweep": row.sweep, "combo": row.combo,
            "cell_ids": [cid for cid, _ in comparisons], "comparisons": [c for _, c in comparisons],
            "curves": curves,
            "max_dev": max(float(np.nanmax(dev)) for _, dev in curves),
            "final_dev": max(float(dev[-1]) for _, dev in curves),
            "max_residual": max(residuals) if residuals else None,
            "flags": flags,
        })
    return groups


def representatives(groups, frame, sweep_name):
    """One cell per (variant, line): the largest sweep value, the smallest seed."""
    chosen = {}
    for g in groups:
        key = (g["variant"], g["line"])
        sweep = -math.inf if math.isnan(g["sweep"]) else g["sweep"]
        if key not in chosen or sweep > chosen[key][0]:
            chosen[key] = (sweep, g)
    seeds = frame.set_index("cell_id")["seed"]
    reps = {}
    for (variant, line), (_, g) in sorted(chosen.items()):
        title = ", ".join(x for x in (line, figures.sweep_label(sweep_name, g["sweep"]), g["combo"],
                                      f"seed {seeds[g['cell_ids'][0]]}") if x)
        reps.setdefault(variant, []).append({"title": title, "comparison": g["comparisons"][0]})
    return reps


def analyze(path, metric=None, tol=None, sweep="kappa", tune=("lr",), outdir=None, echo=True):
    """Writes the figures and summary.md; returns (summary text, best table, slopes, groups, outdir)."""
    results = open_result(path, "analyze")
    try:
        frame = results.cells
        if frame.empty:
            raise SystemExit(f"analyze: {path} holds no cells")
        metric = metric or results.stop.get("metric") or "rel_error"
        tol = float(tol if tol is not None else results.stop.get("tol") or 1e-6)
        sweep_column = grouping.resolve_sweep(frame, None if sweep in (None, "none") else sweep)
        sweep_name = grouping.short_name(sweep_column) if sweep_column else None
        notes = []
        if sweep not in (None, "none") and not sweep_column:
            notes.append(f"The sweep parameter '{sweep}' is absent or constant: no scaling figure or slope.")
        frame = grouping.add_labels(frame, sweep_column, list(tune))
        frame, note = grouping.iterations_to_tol(results, frame, metric, tol)
        notes.append(note[0].upper() + note[1:] + ".")
        best = grouping.select_best(frame)
        slopes = grouping.fit_slopes(best) if sweep_column and not best.empty else {}
        if sweep_column:
            notes.append(f"Slopes: least squares of log10(median iterations) on log10({sweep_name}) over the "
                         f"{sweep_name} values whose median reached tol (pts = used/total).")

        outdir = outdir or default_outdir(path)
        os.makedirs(outdir, exist_ok=True)
        written = []
        if not best.empty:
            has_metric = any(metric in results.trajectory_columns(cid) for cid in frame["cell_id"])
            if has_metric:
                written.append(_figure(outdir, "convergence.png", figures.convergence, results, best, metric, tol,
                                       sweep_name))
            else:
                notes.append(f"No trajectory has a '{metric}' column: no convergence figure.")
            if sweep_column:
                written.append(_figure(outdir, f"iters_vs_{figures.slug(sweep_name)}.png", figures.scaling, best,
                                       slopes, sweep_name, metric, tol))
        groups = theory_groups(results, best) if not best.empty else []
        if groups:
            for variant, reps in representatives(groups, frame, sweep_name).items():
                written.append(_figure(outdir, f"spectral_{figures.slug(variant)}.png", figures.spectral, reps,
                                       sweep_name))
            written.append(_figure(outdir, "deviation.png", figures.deviation, groups, sweep_name))
        settings = {"metric": metric, "tol": tol, "sweep_name": sweep_name}
        text = report.summary(results, frame, best, slopes, groups, settings, notes)
        text += "\nFigures: " + ", ".join(f"`{os.path.basename(p)}`" for p in written) + "\n"
        with open(os.path.join(outdir, "summary.md"), "w") as handle:
            handle.write(text)
        best.drop(columns=["cell_ids"]).to_csv(os.path.join(outdir, "best.csv"), index=False)
        if echo:
            print(text)
            print(f"written to {outdir}")
        return text, best, slopes, groups, outdir
    finally:
        results.close()


def _figure(outdir, name, draw, *args):
    path = os.path.join(outdir, name)
    draw(*args, path)
    return path


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from . import selftest
        return selftest.run()
    tune = tuple(t.strip() for t in args.tune.split(",") if t.strip())
    analyze(args.file, metric=args.metric, tol=args.tol, sweep=args.sweep, tune=tune, outdir=args.outdir)
    return 0
