#!/usr/bin/python3
"""/index has one column per swept parameter, numbers as float64 and missing as NaN.

usage: index_columns_test.py MUONLAB_BINARY

A grid sweeps the problem's kappa, gd's lr and muon's orthogonalizer (with ns5's own
steps); the columns must be exactly problem.kappa, optimizer.lr, optimizer.orthogonalizer
and optimizer.orthogonalizer.steps, each cell's values must equal its stored config, and
an index rewritten without the columns (as an older muonlab wrote it) gets them back on
--resume without rerunning anything.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import pandas as pd

GRID = """name: index_columns
seeds: [0]
stop: {max_iters: 5, tol: 0, metric: rel_error}
record: {spectra: off, final: false}
problem:
  name: matrix_factorization
  params: {n: 8, rank: 2, kappa: {values: [1, 10]}}
optimizer:
  - name: gd
    params: {lr: {values: [0.1, 0.2]}}
  - name: muon
    params: {lr: 0.05, orthogonalizer: {values: [svd, {name: ns5, params: {steps: 3}}, {name: ns5, params: {steps: 5}}]}}
"""

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print("FAILED: " + message)
    return ok


def read_index(path):
    with h5py.File(path, "r") as f:
        index = pd.DataFrame(f["index"][:])
        configs = {cid: json.loads(f["cells"][cid].attrs["config"]) for cid in f["cells"]}
    for column in index.select_dtypes(object):
        index[column] = index[column].str.decode("utf-8")
    return index, configs


def main(argv):
    muonlab = argv[1]
    with tempfile.TemporaryDirectory(prefix="muonlab-index-") as work:
        grid, out = os.path.join(work, "grid.yaml"), os.path.join(work, "out.h5")
        with open(grid, "w") as f:
            f.write(GRID)
        run = subprocess.run([muonlab, "run", grid, "-o", out, "-q"], capture_output=True, text=True)
        if not check(run.returncode == 0, f"muonlab run exited {run.returncode}: {run.stderr}"):
            return 1
        index, configs = read_index(out)
        swept = [c for c in index.columns if "." in c]
        check(swept == ["problem.kappa", "optimizer.lr", "optimizer.orthogonalizer", "optimizer.orthogonalizer.steps"],
              f"swept columns {swept}")
        check(len(index) == 2 * (2 + 3), f"{len(index)} rows, expected 10")
        check(index["problem.kappa"].dtype == np.float64, "problem.kappa is not float64")
        for row in index.to_dict("records"):
            config = configs[row["cell_id"]]
            check(row["problem.kappa"] == config["problem"]["params"]["kappa"], f"{row['cell_id']}: kappa")
            params = config["optimizer"]["params"]
            check(row["optimizer.lr"] == params["lr"], f"{row['cell_id']}: lr")
            orth = params.get("orthogonalizer")
            if orth is None:  # gd has none: text column empty, number column NaN
                check(row["optimizer.orthogonalizer"] == "", f"{row['cell_id']}: orthogonalizer not empty")
                check(math.isnan(row["optimizer.orthogonalizer.steps"]), f"{row['cell_id']}: steps not NaN")
            else:
                check(row["optimizer.orthogonalizer"] == orth["name"], f"{row['cell_id']}: orthogonalizer")
                steps = orth["params"].get("steps", float("nan"))
                same = (math.isnan(steps) and math.isnan(row["optimizer.orthogonalizer.steps"])) or \
                    row["optimizer.orthogonalizer.steps"] == steps
                check(same, f"{row['cell_id']}: steps {row['optimizer.orthogonalizer.steps']} != {steps}")

        # An index without the columns, as files made before they existed hold it.
        with h5py.File(out, "r+") as f:
            old = f["index"][:]
            fixed = [name for name in old.dtype.names if "." not in name]
            plain = np.zeros(len(old), dtype=[(n, old.dtype[n]) for n in fixed])
            for name in fixed:
                plain[name] = old[name]
            del f["index"]
            f.create_dataset("index", data=plain, maxshape=(None,), chunks=True)
        resumed = subprocess.run([muonlab, "run", grid, "-o", out, "--resume"], capture_output=True, text=True)
        check(resumed.returncode == 0, f"--resume exited {resumed.returncode}: {resumed.stderr}")
        check("(0 ran, 10 kept" in resumed.stdout, "--resume reran cells: " + resumed.stdout[-200:])
        again, _ = read_index(out)
        check(list(again.columns) == list(index.columns), f"columns after --resume: {list(again.columns)}")
        check(again["optimizer.lr"].equals(index["optimizer.lr"]), "optimizer.lr changed on --resume")
    if failures:
        print(f"index_columns_test: {len(failures)} check(s) failed")
        return 1
    print("index_columns_test: swept columns present, typed, equal to the configs, restored on --resume")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
