"""tools/analyze --self-test: write a small synthetic result file whose answers are known by
construction, analyse it, and compare.

The file mimics `muonlab run` output (docs/design.md section 5): two problem variants
(symmetric true/false, with m following symmetric), kappa in {1, 100, 1e4}, three seeds,
and three optimizers whose iterations-to-tol follow exact power laws:
  muon (svd):  100 + seed                    -> median 101, slope 0
  gd lr 1.0:   20 kappa, gd lr 0.5: 40 kappa -> slope 1 (asymmetric); in the symmetric
               variant lr 1.0 misses tol on 2 of 3 seeds at kappa 1e4, so lr 0.5 is kept
               there and the slope is (log10(40 * 1e4) - log10(20)) / 4 = log10(2e4) / 4
  adam:        50 sqrt(kappa), never at 1e4  -> slope 0.5 over 2 of 3 points
plus one failed cell. Muon and GD cells carry theory with a planted deviation at one
step (0.01 symmetric, 0.02 asymmetric) and a larger one at an observable step that is
absent from theory/step (it must be ignored: the comparison aligns by step).
"""
import json
import math
import os
import shutil
import tempfile

import h5py
import numpy as np

KAPPAS = (1.0, 100.0, 1.0e4)
SEEDS = (0, 1, 2)
TOL = 1e-6
NEVER = -1
SYMMETRIC_DEVIATION = 0.01
ASYMMETRIC_DEVIATION = 0.02
IGNORED_DEVIATION = 1.0  # at a step theory does not have

GRID_YAML = """name: selftest
stop: {max_iters: 500000, tol: 1.0e-6, metric: rel_error}
record: {every: 10, spectra: every}
"""


def planned_iterations(symmetric, optimizer, lr, kappa, seed):
    if optimizer == "muon":
        return 100 + seed
    if optimizer == "gd":
        if symmetric and lr == 1.0 and kappa == 1.0e4 and seed > 0:
            return NEVER
        return int(round((20 if lr == 1.0 else 40) * kappa))
    if optimizer == "adam":
        return NEVER if kappa == 1.0e4 else int(round(50 * math.sqrt(kappa)))
    raise ValueError(optimizer)


def cell_plan():
    plan = []
    for symmetric in (True, False):
        for kappa in KAPPAS:
            for seed in SEEDS:
                for optimizer, lr in (("muon", 0.2), ("gd", 0.5), ("gd", 1.0), ("adam", 0.01)):
                    plan.append((symmetric, kappa, seed, optimizer, lr))
    return plan


def config(symmetric, kappa, seed, optimizer, lr):
    params = {"lr": lr}
    if optimizer == "muon":
        params.update({"schedule": "geometric", "decay": 0.9,
                       "orthogonalizer": {"name": "svd", "params": {"rank_threshold": 1e-12}}})
    problem = {"symmetric": symmetric, "m": 0 if symmetric else 8, "n": 10, "rank": 2, "kappa": kappa}
    return {"optimizer": {"name": optimizer, "params": params},
            "problem": {"name": "matrix_factorization", "params": problem}, "seed": seed}


def trajectory(iters):
    """rel_error = 10^(-6 t / iters) recorded every 10 steps, reaching 1e-6 at t = iters;
    a cell that never converges decays to 1e-2 over 1000 steps."""
    if iters == NEVER:
        steps = np.arange(0, 1001, 10)
        return steps, 10.0 ** (-2.0 * steps / 1000.0)
    steps = np.unique(np.append(np.arange(0, iters, 10), iters))
    values = 10.0 ** (-6.0 * steps / iters)
    values[-1] = 0.9 * TOL
    return steps, values


def write_theory(cell, symmetric, length):
    theory_steps = np.arange(length)
    curve = np.stack([1 - np.exp(-theory_steps / 10.0), 0.5 * (1 - np.exp(-theory_steps / 20.0))], axis=1)
    obs_steps = np.append(np.arange(0, length, 2), length + 5)  # the last step is not in theory
    measured = np.vstack([curve[obs_steps[:-1]], [[IGNORED_DEVIATION, IGNORED_DEVIATION]]])
    measured[2, 1] += SYMMETRIC_DEVIATION if symmetric else 0.0  # step 4
    t = cell.create_group("theory")
    t["step"] = theory_steps
    obs = cell.create_group("observables")

    def observable(name, values, steps):
        g = obs.create_group(name)
        g["values"] = values
        g["step"] = steps

    observable("residual", np.full((len(obs_steps), 1), 1e-3), obs_steps)
    if symmetric:
        t["d"] = curve
        observable("components", measured, obs_steps)
    else:
        t["x"] = curve
        t["y"] = curve
        measured_y = measured.copy()
        measured_y[3, 0] += ASYMMETRIC_DEVIATION  # step 6
        observable("components", measured, obs_steps)
        observable("components_y", measured_y, obs_steps)
    t["lemma_holds"] = np.array([1.0])


def write_file(path):
    text = h5py.string_dtype()
    dtype = np.dtype([("cell_id", text), ("problem", text), ("optimizer", text), ("orthogonalizer", text),
                      ("seed", "<i8"), ("status", text), ("stop_reason", text), ("iterations", "<i8"),
                      ("final_loss", "<f8"), ("final_metric", "<f8"), ("iters_to_tol", "<i8"),
                      ("wall_seconds", "<f8")])
    rows = []
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "muonlab"
        f.attrs["grid_name"] = "selftest"
        f.attrs["grid_yaml"] = GRID_YAML
        f.attrs["overrides"] = ""
        for number, (symmetric, kappa, seed, optimizer, lr) in enumerate(cell_plan()):
            cell_id = f"c{number:04d}"
            iters = planned_iterations(symmetric, optimizer, lr, kappa, seed)
            steps, values = trajectory(iters)
            cell = f.create_group(f"cells/{cell_id}")
            cell.attrs["config"] = json.dumps(config(symmetric, kappa, seed, optimizer, lr))
            cell.attrs["error"] = ""
            cell["trajectory/step"] = steps
            cell["trajectory/rel_error"] = values
            if optimizer in ("muon", "gd") and kappa == KAPPAS[-1]:
                write_theory(cell, symmetric, 30)
            status = "converged" if iters != NEVER else "max_iters"
            rows.append((cell_id, "matrix_factorization", optimizer, "svd" if optimizer == "muon" else "", seed,
                         status, status, int(steps[-1]), 0.0, float(values[-1]), iters, 0.01))
        failed = f.create_group("cells/cfailed")
        failed.attrs["config"] = json.dumps(config(True, 1.0, 0, "gd", 2.0))
        failed.attrs["error"] = "synthetic failure"
        rows.append(("cfailed", "matrix_factorization", "gd", "", 0, "failed", "exception", 0, math.nan, math.nan,
                     NEVER, 0.0))
        f.create_dataset("index", data=np.array(rows, dtype=dtype))


class Checker:
    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, condition, what):
        self.count += 1
        if not condition:
            self.failures.append(what)

    def close(self, actual, expected, what, tol=1e-9):
        # Slopes come from a least-squares fit of exact powers: only rounding remains.
        self.check(actual is not None and abs(actual - expected) <= tol, f"{what}: got {actual}, expected {expected}")


def run():
    from .cli import analyze
    from .grouping import first_step_below
    from .results import ResultFile

    workdir = tempfile.mkdtemp(prefix="muonlab_analyze_selftest_")
    try:
        path = os.path.join(workdir, "selftest.h5")
        write_file(path)
        text, best, slopes, groups, outdir = analyze(path, echo=False)
        c = Checker()
        sym, asym = "symmetric=true", "symmetric=false"
        c.check(set(best["variant"]) == {sym, asym}, f"variants (m follows symmetric): {set(best['variant'])}")
        c.check(set(best["line"]) == {"muon (svd)", "gd", "adam"}, f"lines: {set(best['line'])}")

        c.close(slopes[(sym, "muon (svd)")][0], 0.0, "muon slope")
        c.close(slopes[(asym, "gd")][0], 1.0, "gd slope, asymmetric")
        c.close(slopes[(sym, "gd")][0], math.log10(2e4) / 4, "gd slope, symmetric (lr 0.5 kept at 1e4)")
        c.close(slopes[(sym, "adam")][0], 0.5, "adam slope")
        c.check(slopes[(sym, "adam")][1:] == (2, 3), f"adam slope points: {slopes[(sym, 'adam')][1:]}")

        def row(variant, line, kappa):
            match = best[(best["variant"] == variant) & (best["line"] == line) & (best["sweep"] == kappa)]
            return match.iloc[0]

        top = row(sym, "gd", 1.0e4)
        c.check(top["combo"] == "lr 0.5" and top["median"] == 400000 and top["converged"] == 3,
                f"best gd at kappa 1e4 (symmetric): {top['combo']}, {top['median']}, {top['converged']}")
        c.check(row(sym, "gd", 100.0)["combo"] == "lr 1", "best gd at kappa 100 is lr 1")
        c.check(row(sym, "muon (svd)", 1.0)["median"] == 101, "muon median over seeds 100, 101, 102")
        c.check(math.isinf(row(sym, "adam", 1.0e4)["median"]), "adam at 1e4 never reaches tol")

        by_key = {(g["variant"], g["line"]): g for g in groups}
        c.close(by_key[(sym, "gd")]["max_dev"], SYMMETRIC_DEVIATION, "symmetric deviation (planted at step 4)", 1e-12)
        c.close(by_key[(asym, "muon (svd)")]["max_dev"], ASYMMETRIC_DEVIATION,
                "asymmetric deviation (planted in components_y)", 1e-12)
        c.close(by_key[(sym, "gd")]["final_dev"], 0.0, "final deviation", 1e-12)
        c.check(len(groups) == 4, f"theory groups: {len(groups)}")

        for name in ("convergence.png", "iters_vs_kappa.png", "deviation.png", "summary.md",
                     "spectral_symmetric_true.png", "spectral_symmetric_false.png"):
            file = os.path.join(outdir, name)
            c.check(os.path.isfile(file) and os.path.getsize(file) > 1000, f"{name} written")
        c.check("`cfailed` (failed)" in text and "synthetic failure" in text, "failed cell listed")
        c.check("0.50 (2/3 pts)" in text, "adam slope in the table with its point count")
        c.check("400,000 (3/3) lr 0.5" in text, "best lr and seed count in the table")

        # A tolerance other than the grid's comes from the recorded trajectory (every 10
        # steps): 10^(-6 t / 2000) <= 1.1e-3 first at t = 986.2, recorded at 990.
        results = ResultFile(path)
        cell = results.cells
        gd_cell = cell[(cell["optimizer"] == "gd") & (cell["problem.kappa"] == 100.0) & (cell["optimizer.lr"] == 1.0)]
        c.check(first_step_below(results.trajectory(gd_cell.iloc[0]["cell_id"], "rel_error"), 1.1e-3) == 990,
                "iterations from the trajectory at a tolerance other than the grid's")
        results.close()
        # Muon: t >= 0.4931 (100 + seed) = 49.3, 49.8, 50.3 -> recorded 50, 50, 60 -> median 50.
        _, best_traj, _, _, _ = analyze(path, tol=1.1e-3, outdir=os.path.join(workdir, "traj"), echo=False)
        muon = best_traj[(best_traj["line"] == "muon (svd)") & (best_traj["variant"] == sym)]
        c.check((muon["median"] == 50).all(), f"muon at tol 1.1e-3: {list(muon['median'])} (expected 50)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    for failure in c.failures:
        print(f"FAILED: {failure}")
    print(f"analyze self-test: {c.count - len(c.failures)}/{c.count} checks passed")
    return 1 if c.failures else 0
