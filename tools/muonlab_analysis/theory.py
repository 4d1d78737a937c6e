"""Measured spectral coordinates (observables/<name>) against the problem's predicted scalar
recursions (theory/<name>), paired by name and aligned by step.

Observables are recorded on observables/<name>/step, theory on theory/step; only the steps
present in both are compared.
"""
import numpy as np

# (observable, theory) pairs. Matrix factorization: components <-> d (symmetric), components
# <-> x and components_y <-> y (asymmetric). In-context learning: eigen_coordinates <-> gamma.
PAIRS = (
    ("components", "d"),
    ("components", "x"),
    ("components_y", "y"),
    ("eigen_coordinates", "gamma"),
)

# Observables that measure how far the iterate is from the decoupled (aligned / commuting)
# manifold on which the recursions are exact.
RESIDUALS = ("residual", "off_diagonal")


class Comparison:
    """The paired series of one cell: for each pair, measured and predicted values on the
    common steps, plus the residual observable (on its own steps)."""

    def __init__(self, pairs, residual, flags):
        self.pairs = pairs          # list of (observable, theory, steps, measured [T x r], predicted [T x r])
        self.residual = residual    # (name, steps, values [T]) or None
        self.flags = flags          # scalar theory entries such as lemma_holds, budget_ok

    def deviation(self):
        """(steps, max over pairs and modes of |measured - predicted|) on the steps common to
        every pair, or None."""
        if not self.pairs:
            return None
        steps = self.pairs[0][2]
        for pair in self.pairs[1:]:
            steps = np.intersect1d(steps, pair[2])
        worst = np.zeros(len(steps))
        for _, _, pair_steps, measured, predicted in self.pairs:
            rows = np.searchsorted(pair_steps, steps)
            worst = np.maximum(worst, np.max(np.abs(measured[rows] - predicted[rows]), axis=1))
        return steps, worst


def align(obs_steps, obs_values, theory_steps, theory_values):
    """Rows of both series at the steps they share (steps ascending in both)."""
    steps, obs_rows, theory_rows = np.intersect1d(obs_steps, theory_steps, assume_unique=False,
                                                   return_indices=True)
    measured = obs_values[obs_rows]
    predicted = np.atleast_2d(theory_values.T).T[theory_rows]
    modes = min(measured.shape[1], predicted.shape[1])
    return steps, measured[:, :modes], predicted[:, :modes]


def compare(results, cell_id):
    """The Comparison of one cell, or None when it has no pairable theory."""
    theory = results.theory(cell_id)
    if "step" not in theory:
        return None
    pairs = []
    for obs_name, theory_name in PAIRS:
        if theory_name not in theory:
            continue
        observed = results.observable(cell_id, obs_name)
        if observed is None:
            continue
        steps, measured, predicted = align(observed[0], observed[1], theory["step"], theory[theory_name])
        if len(steps):
            pairs.append((obs_name, theory_name, steps, measured, predicted))
    if not pairs:
        return None
    residual = None
    for name in RESIDUALS:
        observed = results.observable(cell_id, name)
        if observed is not None:
            residual = (name, observed[0], observed[1][:, 0])
            break
    flags = {name: float(np.ravel(value)[0]) for name, value in theory.items()
             if name != "step" and np.size(value) == 1}
    return Comparison(pairs, residual, flags)
