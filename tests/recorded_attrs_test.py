#!/usr/bin/python3
"""What a result file records about its run: the resolved rules and the build it came from.

usage: recorded_attrs_test.py MUONLAB_BINARY SOURCE_DIR

* root attributes stop and record are JSON with every key, defaults filled in and --set
  overrides applied (stop.max_iters comes from --set here);
* git_commit is the commit the binary was built from (when the source tree is a git
  checkout and HEAD has not moved since the build), git_dirty is 0 or 1, compiler names the
  compiler with its version, build_type is set;
* the config attribute writes numbers in shortest round-trip form (0.2, not 0.20000000000000001).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import h5py

GRID = """name: recorded
stop: {max_iters: 50, tol: 1.0e-6, metric: rel_error}
record: {every: 2, spectra: every, spectra_of: [iterate]}
problem: {name: matrix_factorization, params: {n: 6, rank: 2, kappa: 10}}
optimizer: {name: gd, params: {lr: 0.2}}
"""

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print("FAILED: " + message)
    return ok


def main(argv):
    muonlab, source = argv[1], argv[2]
    with tempfile.TemporaryDirectory(prefix="muonlab-recorded-") as work:
        grid, out = os.path.join(work, "grid.yaml"), os.path.join(work, "out.h5")
        with open(grid, "w") as f:
            f.write(GRID)
        run = subprocess.run([muonlab, "run", grid, "-o", out, "-q", "--set", "stop.max_iters=7"],
                             capture_output=True, text=True)
        if not check(run.returncode == 0, f"muonlab run exited {run.returncode}: {run.stderr}"):
            return 1
        with h5py.File(out, "r") as f:
            attrs = dict(f.attrs)
            (cell,) = f["cells"].values()
            config = cell.attrs["config"]

    stop = json.loads(attrs["stop"])
    check(stop == {"max_iters": 7, "tol": 1e-6, "metric": "rel_error", "max_seconds": 0,
                   "divergence_factor": 1e8}, f"stop {stop}")
    record = json.loads(attrs["record"])
    check(record == {"every": 2, "spectra": "every", "spectra_every": 1, "spectra_per_decade": 20,
                     "spectra_exact": False, "spectra_of": ["iterate"], "final": True, "orth_quality": False},
          f"record {record}")
    check(re.fullmatch(r"GNU \d+\.\d+\.\d+", attrs["compiler"]) is not None, f"compiler {attrs['compiler']!r}")
    check(attrs["build_type"] != "", "build_type is empty")
    check(int(attrs["git_dirty"]) in (0, 1, -1), f"git_dirty {attrs['git_dirty']}")
    head = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        check(attrs["git_commit"] == head.stdout.strip(),
              f"git_commit {attrs['git_commit']} is not HEAD {head.stdout.strip()} (rebuild after committing?)")
        check(int(attrs["git_dirty"]) in (0, 1), "git_dirty unknown in a git checkout")
    version = subprocess.run([muonlab, "--version"], capture_output=True, text=True).stdout
    check(attrs["git_commit"][:12] in version, f"--version does not name the commit: {version!r}")
    check('"lr":0.2}' in config and "0.20000000000000001" not in config, f"config numbers: {config}")
    if failures:
        print(f"recorded_attrs_test: {len(failures)} check(s) failed")
        return 1
    print("recorded_attrs_test: rules, provenance and config numbers as recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
