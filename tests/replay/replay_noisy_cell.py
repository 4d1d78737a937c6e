#!/usr/bin/python3
"""Replays a noisy matrix-factorization cell from its seeds, independently of muonlab.

usage: replay_noisy_cell.py MUONLAB_BINARY SOURCE_DIR

Runs a tiny grid (symmetric matrix factorization, Gaussian gradient noise, gd, every step
recorded), then rebuilds the cell's random numbers from docs/random.md alone: its own
pure-Python mt19937_64, uniform01 and polar-method normal sampler, the seed derivation
from the grid seed, and the plugin's streams. It checks

* the seeds: the problem_seed, optimizer_seed and sample_seed attributes exist and equal
  the derivation, and the cell id is the hash of its config;
* the engine: the standard's check value (10000th word of the default seed);
* the initial iterate init/X: regenerated bit for bit from the init stream;
* the target: the Gaussian matrix of the target stream, orthonormalized in numpy, gives
  problem/U up to rounding;
* the noisy GD trajectory replayed in numpy matches trajectory/loss (and final/X) with
  rtol 1e-10 (see TOLERANCE below);
* and that the check can fail: the same replay with a wrong sample seed, and without
  noise, does NOT match.

Nothing from muonlab is imported; only the result file is read.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MASK = (1 << 64) - 1

GRID_SEED = 3
N, RANK, K = 10, 3, 3
LR, STEPS = 0.2, 40
NOISE_SCALE, INIT_SCALE, KAPPA = 0.5, 0.3, 4.0

GRID = f"""name: replay_noisy_cell
seeds: [{GRID_SEED}]
stop: {{max_iters: {STEPS}, tol: 0, metric: rel_error}}
record: {{every: 1, spectra: off}}
problem:
  name: matrix_factorization
  params: {{n: {N}, rank: {RANK}, k: {K}, kappa: {KAPPA}, init: small_random, init_scale: {INIT_SCALE},
           noise: gaussian, noise_scale: {NOISE_SCALE}, target: dense}}
optimizer:
  name: gd
  params: {{lr: {LR}}}
"""

# The replayed losses agree with muonlab's to rounding, not bit for bit: muonlab forms
# X X^T - M, (X X^T - M) X, ||R||_F^2 and ||G||_F with Eigen/OpenBLAS kernels whose summation
# order (blocking, SIMD lanes) numpy does not share. For these sizes (sums of at most 10
# terms) each such quantity differs by a few units of 2^-53 ~ 1.1e-16 relative; the loss is a
# sum of squares, so it inherits that relative error without cancellation. Over 40 steps of a
# stable GD (lr * largest curvature < 1 here, so perturbations are not amplified beyond a
# small factor per step) the accumulated relative difference stays below ~40 * 10 * 1e-16
# = 4e-14. rtol 1e-10 leaves three orders of magnitude of margin for that, and is still
# eight orders below what a wrong seed changes (the noise is 50% of the gradient's RMS:
# one wrong noise draw changes the next loss at the 1e-2 level).
TOLERANCE = 1e-10
WRONG_SEED_MINIMUM_DIFFERENCE = 1e-6

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAILED: {message}", file=sys.stderr)
    return condition


# --- docs/random.md section 2: the engine ---------------------------------------------------

class MT19937_64:
    N, M = 312, 156
    A = 0xB5026F5AA96619E9
    UPPER, LOWER = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed=5489):
        x = [0] * self.N
        x[0] = seed & MASK
        for i in range(1, self.N):
            x[i] = (6364136223846793005 * (x[i - 1] ^ (x[i - 1] >> 62)) + i) & MASK
        self.x = x
        self.index = self.N

    def _regenerate(self):
        x = self.x
        for i in range(self.N):
            y = (x[i] & self.UPPER) | (x[(i + 1) % self.N] & self.LOWER)
            x[i] = x[(i + self.M) % self.N] ^ (y >> 1) ^ (self.A if y & 1 else 0)
        self.index = 0

    def __call__(self):
        if self.index >= self.N:
            self._regenerate()
        z = self.x[self.index]
        self.index += 1
        z ^= (z >> 29) & 0x5555555555555555
        z ^= (z << 17) & 0x71D67FFFEDA60000
        z ^= (z << 37) & 0xFFF7EEE000000000
        z ^= z >> 43
        return z & MASK


# --- section 3: uniform01 and the normal sampler --------------------------------------------

BELOW_ONE = 1.0 - 2.0 ** -53


def uniform01(rng):
    u = float(rng()) / 2.0 ** 64  # float(int): nearest double, ties to even; exact division
    return BELOW_ONE if u >= 1.0 else u


class NormalSampler:
    """Polar method, one cached value; math.log / math.sqrt are the C library's functions."""

    def __init__(self, mean=0.0, stddev=1.0):
        self.mean, self.stddev = mean, stddev
        self.cached = None

    def __call__(self, rng):
        if self.cached is not None:
            z, self.cached = self.cached, None
        else:
            while True:
                x = 2.0 * uniform01(rng) - 1.0
                y = 2.0 * uniform01(rng) - 1.0
                s = x * x + y * y
                if not (s > 1.0 or s == 0.0):
                    break
            f = math.sqrt(-2.0 * math.log(s) / s)
            self.cached = x * f
            z = y * f
        return z * self.stddev + self.mean


def column_major(rows, cols, draw):
    out = np.empty((rows, cols))
    for j in range(cols):
        for i in range(rows):
            out[i, j] = draw()
    return out


# --- section 1: seeds -------------------------------------------------------------------------

def stable_hash(text):
    h = 0xcbf29ce484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001b3) & MASK
    return h


def finalize(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def mix_seed(a, b):
    return finalize(((a * 0x9E3779B97F4A7C15) & MASK) ^ b)


def mf_mix(seed, sample):
    """matrix_factorization's own mixing of (seed, sample) for its noise stream (4.1)."""
    return finalize((seed + 0x9E3779B97F4A7C15 * (sample + 1)) & MASK)


SAMPLE_STREAM = 0x6a09e667f3bcc909
MF_INIT_STREAM = 0x9E3779B97F4A7C15
MF_NOISE_STREAM = 0xD1B54A32D192ED03


def cell_seeds(seed, problem_name, cell_id):
    problem_seed = mix_seed(seed, stable_hash(problem_name))
    return {"problem_seed": problem_seed,
            "optimizer_seed": mix_seed(seed, stable_hash(cell_id)),
            "sample_seed": problem_seed ^ SAMPLE_STREAM}


# --- the replay (section 4.1, noise: gaussian, symmetric, target: dense) + gd -----------------

def replay(target, x0, problem_seed, sample_seed, noise=True):
    """Losses at steps 0..STEPS and the final iterate of noisy GD from x0 on
    f(X) = 1/4 ||X X^T - M||_F^2, gradient (X X^T - M) X."""
    x = x0.copy()
    losses = []
    for t in range(STEPS + 1):
        residual = x @ x.T - target
        losses.append(0.25 * float(np.sum(residual * residual)))
        if t == STEPS:
            break  # the stopping step is evaluated and recorded, not stepped
        grad = residual @ x
        if noise:
            sample = mix_seed(sample_seed, t)
            rng = MT19937_64(mf_mix(problem_seed ^ MF_NOISE_STREAM, sample))
            rms = math.sqrt(float(np.sum(grad * grad))) / math.sqrt(grad.size)
            scale = NOISE_SCALE * rms
            normal = NormalSampler(0.0, 1.0)  # one per block
            grad = grad + scale * column_major(grad.shape[0], grad.shape[1], lambda: normal(rng))
        x = x - LR * grad
    return np.array(losses), x


def max_relative_difference(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)))


def text(value):
    return value.decode() if isinstance(value, bytes) else value


def id_text(config):
    """The text a cell id hashes: the stored config with every real written as %.17g
    (the stored attribute uses the shortest round-trip form; docs/design.md section 4)."""
    def write(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return "%.17g" % (0.0 if value == 0 else value)
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, list):
            return "[" + ",".join(write(v) for v in value) + "]"
        return "{" + ",".join(json.dumps(k) + ":" + write(v) for k, v in value.items()) + "}"
    return write(json.loads(config))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    muonlab = argv[1]

    engine = MT19937_64()
    for _ in range(9999):
        engine()
    check(engine() == 9981545732273789042, "mt19937_64: the 10000th word of seed 5489 is not the standard's")

    with tempfile.TemporaryDirectory(prefix="muonlab-replay-") as work:
        grid, out = os.path.join(work, "grid.yaml"), os.path.join(work, "out.h5")
        with open(grid, "w") as f:
            f.write(GRID)
        result = subprocess.run([muonlab, "run", grid, "-o", out, "-q"], capture_output=True, text=True)
        if not check(result.returncode == 0, f"muonlab run exited {result.returncode}: {result.stderr.strip()}"):
            return 1
        with h5py.File(out, "r") as f:
            (cell_id,) = list(f["cells"])
            cell = f["cells"][cell_id]
            attrs = {key: cell.attrs[key] for key in cell.attrs}
            u, sigma = cell["problem/U"][()], cell["problem/sigma"][()].ravel()
            target = cell["problem/M"][()]  # listed with target: dense
            x0 = cell["init/X"][()]
            steps = cell["trajectory/step"][()]
            losses = cell["trajectory/loss"][()]
            final_x = cell["final/X"][()]

    check(text(attrs["status"]) == "max_iters", f"cell status {text(attrs['status'])}, expected max_iters")
    check(int(attrs["seed"]) == GRID_SEED, f"cell seed {attrs['seed']}, expected {GRID_SEED}")
    config = text(attrs["config"])
    check(cell_id == "c" + f"{stable_hash(id_text(config)):016x}"[:12], f"cell id {cell_id} is not the hash of its config")

    # The replay uses the seeds the file stores; they must also equal the documented derivation.
    derived = cell_seeds(GRID_SEED, "matrix_factorization", cell_id)
    for name, value in derived.items():
        if not check(name in attrs, f"the cell has no {name} attribute"):
            return 1
        check(int(attrs[name]) == value, f"attribute {name} = {int(attrs[name])}, derivation gives {value}")
    problem_seed, sample_seed = int(attrs["problem_seed"]), int(attrs["sample_seed"])

    # The initial iterate, bit for bit: Rng(seed ^ init tag), NormalSampler(0, init_scale / sqrt(n)).
    init_rng = MT19937_64(problem_seed ^ MF_INIT_STREAM)
    init_normal = NormalSampler(0.0, INIT_SCALE / math.sqrt(N))
    replayed_x0 = column_major(N, K, lambda: init_normal(init_rng))
    check(replayed_x0.shape == x0.shape and replayed_x0.tobytes() == x0.tobytes(),
          "init/X is not the bit-for-bit replay of the init stream")

    # The target: the Gaussian of Rng(seed), orthonormalized with the sign of R's diagonal.
    target_rng = MT19937_64(problem_seed)
    target_normal = NormalSampler(0.0, 1.0)
    gaussian = column_major(N, RANK, lambda: target_normal(target_rng))
    q, r = np.linalg.qr(gaussian)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    check(np.max(np.abs(q - u)) < 1e-12, f"problem/U differs from the replayed Haar draw by {np.max(np.abs(q - u)):.3g}")

    check(np.max(np.abs(u @ np.diag(sigma) @ u.T - target)) < 1e-12, "problem/M is not U diag(sigma) U^T")
    check(list(steps) == list(range(STEPS + 1)), f"trajectory steps {list(steps)[:5]}..., expected 0..{STEPS}")
    replayed, replayed_final = replay(target, x0, problem_seed, sample_seed)
    difference = max_relative_difference(replayed, losses)
    print(f"replay: {len(losses)} losses, max relative difference {difference:.3g} (tolerance {TOLERANCE:g})")
    check(difference <= TOLERANCE, f"replayed loss trajectory differs by {difference:.3g} > {TOLERANCE:g}")
    final_difference = float(np.max(np.abs(replayed_final - final_x)) / np.max(np.abs(final_x)))
    check(final_difference <= TOLERANCE, f"replayed final/X differs by {final_difference:.3g} > {TOLERANCE:g}")

    # The check can fail: a wrong sample seed, and no noise at all, must not match.
    wrong, _ = replay(target, x0, problem_seed, sample_seed ^ 1)
    wrong_difference = max_relative_difference(wrong, losses)
    print(f"wrong sample seed: max relative difference {wrong_difference:.3g}")
    check(wrong_difference > WRONG_SEED_MINIMUM_DIFFERENCE,
          f"a replay with a wrong sample seed matches too (difference {wrong_difference:.3g})")
    wrong_problem_seed = mix_seed(GRID_SEED + 1, stable_hash("matrix_factorization"))
    wrong, _ = replay(target, x0, wrong_problem_seed, wrong_problem_seed ^ SAMPLE_STREAM)
    wrong_difference = max_relative_difference(wrong, losses)
    print(f"another grid seed's streams: max relative difference {wrong_difference:.3g}")
    check(wrong_difference > WRONG_SEED_MINIMUM_DIFFERENCE,
          f"a replay with another grid seed's streams matches too (difference {wrong_difference:.3g})")
    noiseless, _ = replay(target, x0, problem_seed, sample_seed, noise=False)
    noiseless_difference = max_relative_difference(noiseless, losses)
    print(f"without noise: max relative difference {noiseless_difference:.3g}")
    check(noiseless_difference > WRONG_SEED_MINIMUM_DIFFERENCE, "the noise-free replay matches: the noise was not tested")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("replay matches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
