#!/usr/bin/python3
"""Smoke tests of the scripts in tools/, one tool per call.

usage: smoke_test.py MUONLAB_BINARY SOURCE_DIR TOOL [--keep DIR]

TOOL: build, run, setup, analyze, performance-profile, adamw-spectrum, plot-bench-orth, bench-grid.
Each test makes its input with the built muonlab binary (a grid of a few small cells, or a
bench-orth run on small matrices), runs the tool into a temporary directory and checks what
it wrote: files exist, figures are PNG images that are not blank, the numbers in the
summaries parse, are in range and agree with the result file read here directly; and that a
bad argument is refused with a message and exit status 2 (or 1 where the tool says so).
The Python tools run with DeprecationWarning and FutureWarning turned into errors, so a call
that numpy, pandas or matplotlib have deprecated fails here first. --keep DIR writes into DIR
and leaves it (to look at the figures).
"""
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np

failures = []
STRICT = ["-W", "error::DeprecationWarning", "-W", "error::FutureWarning"]


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAILED: {message}", file=sys.stderr)
    return condition


def run(args, expect=0, env=None, cwd=None):
    merged = dict(os.environ, **(env or {}))
    result = subprocess.run(args, capture_output=True, text=True, env=merged, cwd=cwd)
    check(result.returncode == expect,
          f"{' '.join(args)} exited {result.returncode}, expected {expect}\n"
          f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}")
    return result


def python_tool(source_dir, name, *args, expect=0):
    return run([sys.executable, *STRICT, os.path.join(source_dir, "tools", name), *args], expect=expect)


def check_png(path, min_width=300, min_height=200):
    """A PNG file of at least min_width x min_height pixels, not of one colour."""
    if not check(os.path.isfile(path) and os.path.getsize(path) > 0, f"{path}: missing or empty"):
        return
    with open(path, "rb") as handle:
        head = handle.read(24)
    if not check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG file"):
        return
    width, height = struct.unpack(">II", head[16:24])
    check(width >= min_width and height >= min_height, f"{path}: {width}x{height} pixels, too small for a figure")
    import matplotlib.image
    pixels = matplotlib.image.imread(path)
    check(float(np.std(pixels)) > 0.01, f"{path}: the image is (almost) of one colour")


def check_refusal(result, *words):
    text = result.stderr.lower()
    check(all(w.lower() in text for w in words), f"refusal does not say {words}: {result.stderr.strip()[:500]}")


def markdown_rows(text):
    """The body rows of the markdown tables in text, as lists of stripped cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return [r for r in rows if r and r[0] not in ("solver", "block")]


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    return path


def cell_configs(path):
    """{cell_id: (config dict, iters_to_tol)} straight from the result file."""
    out = {}
    with h5py.File(path, "r") as f:
        index = f["index"][:]
        for row in index:
            cell_id = row["cell_id"].decode() if isinstance(row["cell_id"], bytes) else row["cell_id"]
            config = json.loads(f["cells"][cell_id].attrs["config"])
            out[cell_id] = (config, int(row["iters_to_tol"]))
    return out


# ---- tools/build ---------------------------------------------------------------------------

TINY_PROJECT = """cmake_minimum_required(VERSION 3.16)
project(tiny CXX)
add_executable(fine fine.cpp)
add_executable(broken broken.cpp)
"""


def test_build(muonlab, source_dir, work):
    """tools/build, copied into a tiny CMake project (it builds the project it lives in): a good
    target builds with one line of output; a target with thousands of compile errors (more
    than a pipe holds) prints the first ones and where the log is and exits 2; so does a
    project that fails to configure."""
    project = os.path.join(work, "project")
    os.makedirs(os.path.join(project, "tools"))
    shutil.copy(os.path.join(source_dir, "tools", "build"), os.path.join(project, "tools", "build"))
    write(os.path.join(project, "CMakeLists.txt"), TINY_PROJECT)
    write(os.path.join(project, "fine.cpp"), "int main() { return 0; }\n")
    write(os.path.join(project, "broken.cpp"), "".join(f"int f{i}() {{ return }}\n" for i in range(3000)))
    script = os.path.join(project, "tools", "build")
    build = os.path.join(work, "project-build")
    log = os.path.join(build, "build.log")

    good = run([script, build], expect=0, env={"MUONLAB_BUILD_TARGET": "fine"})
    check(good.stdout == "", f"a good build wrote to stdout: {good.stdout!r}")
    check(good.stderr.strip().splitlines() == [f"muonlab: building fine in {build} (log: {log})"],
          f"a good build should print one line saying what it builds and where the log is: {good.stderr!r}")
    check(os.access(os.path.join(build, "fine"), os.X_OK), "the good target was not built")

    bad = run([script, build], expect=2, env={"MUONLAB_BUILD_TARGET": "broken"})
    lines = bad.stderr.strip().splitlines()
    check(lines and lines[-1] == f"muonlab: build failed; full log in {log}",
          f"a failed build does not end with where the log is: {lines[-1:] if lines else bad.stderr!r}")
    check("broken.cpp:1:" in bad.stderr and "error" in bad.stderr,
          f"a failed build does not show the first compile error: {bad.stderr[:500]!r}")
    check(len(lines) <= 70, f"a failed build printed {len(lines)} lines; the excerpt should be short")
    check(os.path.getsize(log) > 100_000, "the log should hold every error (the test needs more than a pipe holds)")

    unconfigurable = os.path.join(work, "unconfigurable")
    os.makedirs(os.path.join(unconfigurable, "tools"))
    shutil.copy(script, os.path.join(unconfigurable, "tools", "build"))
    write(os.path.join(unconfigurable, "CMakeLists.txt"),
          "cmake_minimum_required(VERSION 3.16)\nproject(x NONE)\nmessage(FATAL_ERROR \"deliberately broken\")\n")
    build2 = os.path.join(work, "unconfigurable-build")
    refused = run([os.path.join(unconfigurable, "tools", "build"), build2], expect=2)
    check("deliberately broken" in refused.stderr, f"a failed configure does not show cmake's error: {refused.stderr!r}")
    check(refused.stderr.strip().endswith(f"muonlab: configuring failed; full log in {build2}/build.log"),
          f"a failed configure does not end with where the log is: {refused.stderr!r}")


# ---- tools/run -----------------------------------------------------------------------------

def test_run(muonlab, source_dir, work):
    """Only the usage: anything more installs packages and builds."""
    script = os.path.join(source_dir, "tools", "run")
    for args in ([], ["-h"], ["--help"]):
        result = run([script, *args], expect=2)
        check(result.stderr.startswith("usage: ./tools/run GRID.yaml"), f"tools/run {args}: no usage: {result.stderr!r}")
        check(result.stdout == "", f"tools/run {args} wrote to stdout")


# ---- tools/setup ---------------------------------------------------------------------------

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{calls}"
{body}
"""


def test_setup(muonlab, source_dir, work):
    """With dpkg-query, apt-get and sudo replaced by stubs that log their calls: quiet and
    nothing installed when every package is there; one line naming the missing ones and one
    apt-get install of exactly those otherwise."""
    stubs = os.path.join(work, "stubs")
    os.makedirs(stubs)
    calls = os.path.join(work, "calls")
    missing = os.path.join(work, "missing")  # one package name a line: what the stub says is absent
    bodies = {
        "dpkg-query": f'for p; do :; done; grep -qx "$p" "{missing}" && exit 1; printf "install ok installed"',
        "apt-get": "exit 0",
        "sudo": 'exec "$@"',
    }
    for name, body in bodies.items():
        path = write(os.path.join(stubs, name), STUB.format(calls=calls, body=body))
        os.chmod(path, 0o755)
    env = {"PATH": stubs + os.pathsep + os.environ.get("PATH", "")}
    script = os.path.join(source_dir, "tools", "setup")

    write(missing, "")
    quiet = run([script], expect=0, env=env)
    check(quiet.stdout == "" and quiet.stderr == "", f"setup with nothing missing printed: {quiet.stdout!r} {quiet.stderr!r}")
    logged = open(calls).read().splitlines()
    check(logged and all(c.startswith("dpkg-query ") for c in logged), f"setup with nothing missing ran: {logged}")
    check("dpkg-query -W -f=${Status} libeigen3-dev" in logged, f"setup did not ask dpkg about libeigen3-dev: {logged}")

    write(missing, "libeigen3-dev\npython3-h5py\n")
    write(calls, "")
    install = run([script], expect=0, env=env)
    check(install.stderr.strip() == "muonlab setup: installing libeigen3-dev python3-h5py",
          f"setup should name what it installs: {install.stderr!r}")
    installs = [c for c in open(calls).read().splitlines() if c.startswith("apt-get install")]
    check(installs == ["apt-get install -y -qq --no-install-recommends libeigen3-dev python3-h5py"],
          f"expected one apt-get install of the missing packages: {installs}")


# ---- analyze and performance-profile: one small grid -----------------------------------------

PROFILE_GRID = """name: smoke_profile
seeds: 2
stop: {max_iters: 300, tol: 1.0e-4, metric: rel_error}
record: {every: 1, spectra: log, spectra_per_decade: 5}
problem:
  name: matrix_factorization
  params: {n: 12, rank: 2, kappa: {values: [1, 30]}, init: small_random, init_scale: 1.0e-3}
optimizer:
  - name: gd
    params: {lr: {values: [0.1, 0.3]}}
  - name: muon
    params: {lr: 0.1, schedule: geometric, decay: 0.95, orthogonalizer: {values: [svd, ns5]}}
"""


def profile_grid(muonlab, work):
    grid = write(os.path.join(work, "profile.yaml"), PROFILE_GRID)
    out = os.path.join(work, "profile.h5")
    run([muonlab, "run", grid, "-o", out, "-q"])
    return out


def test_performance_profile(muonlab, source_dir, work):
    result_file = profile_grid(muonlab, work)
    outdir = os.path.join(work, "profile")
    printed = python_tool(source_dir, "performance-profile", result_file, "--outdir", outdir).stdout
    check_png(os.path.join(outdir, "smoke_profile_profile.png"))
    md_path = os.path.join(outdir, "smoke_profile_profile") + ".md"  # a file the tool writes
    if not check(os.path.isfile(md_path), f"{md_path} not written"):
        return
    text = open(md_path).read()
    check(text in printed, "the summary printed differs from the one written")
    check("4 problems" in text, f"expected 4 problems (2 kappa x 2 seeds): {text[:300]}")

    # The expected table from the file itself: per solver and problem (kappa, seed) the
    # fewest iterations to tol over the solver's configurations (the lr grid).
    best = {}
    for config, iters in cell_configs(result_file).values():
        key = (config["optimizer"]["name"], config["problem"]["params"]["kappa"], config["seed"])
        if iters >= 0:
            best[key] = min(best.get(key, math.inf), iters)
        else:
            best.setdefault(key, math.inf)
    rows = {r[0]: r for r in markdown_rows(text)}
    check(sorted(rows) == ["gd", "muon"], f"expected solvers gd and muon, got {sorted(rows)}")
    for solver, row in rows.items():
        mine = [v for (s, _, _), v in best.items() if s == solver]
        solved = [v for v in mine if math.isfinite(v)]
        check(row[1] == f"{len(solved) / 4:.2f} ({len(solved)}/4)", f"{solver}: solved {row[1]}, expected {len(solved)}/4")
        if solved:
            median = float(np.median(solved))
            check(row[2] == f"{median:.0f}" and 0 < median <= 300, f"{solver}: median iterations {row[2]}, expected {median:.0f}")
            # gd and muon take one gradient a step; the evaluation at step t (t + 1 so far) is the
            # one that finds the metric at tol, and every step is recorded.
            evals = float(np.median([v + 1 for v in solved]))
            check(row[3] == f"{evals:.0f}", f"{solver}: median grad evals {row[3]}, expected {evals:.0f}")
    # muon converges on every problem of this grid; gd does not at kappa 30 in 300 steps.
    check(rows.get("muon", [None, ""])[1] == "1.00 (4/4)", f"muon should solve every problem: {rows.get('muon')}")

    bad = python_tool(source_dir, "performance-profile", result_file, "--outdir", outdir, "--where", "problem.nosuch=1",
                      expect=2)
    check_refusal(bad, "--where", "problem.kappa")
    bad = python_tool(source_dir, "performance-profile", os.path.join(work, "missing.h5"), expect=2)
    check_refusal(bad, "performance-profile: cannot read", "missing.h5")
    bad = python_tool(source_dir, "performance-profile", result_file, "--tau-max", "many", expect=2)
    check_refusal(bad, "--tau-max")
    subset = python_tool(source_dir, "performance-profile", result_file, "--outdir", outdir, "--name", "k1",
                         "--where", "problem.kappa=1").stdout
    check("2 problems" in subset, f"--where problem.kappa=1 should keep 2 problems: {subset[:300]}")


def test_analyze(muonlab, source_dir, work):
    """The analysis CLI on a file muonlab wrote (its --self-test uses a synthetic one)."""
    result_file = profile_grid(muonlab, work)
    outdir = os.path.join(work, "analyze")
    python_tool(source_dir, "analyze", result_file, "--tol", "1e-4", "--sweep", "kappa", "--outdir", outdir)
    summary = os.path.join(outdir, "summary.md")
    if check(os.path.isfile(summary) and os.path.getsize(summary) > 0, "summary.md not written"):
        text = open(summary).read()
        # The first table against the file: per line and kappa the median iterations to tol over
        # seeds, of the best lr (never reached: inf).
        runs = {}
        for config, iters in cell_configs(result_file).values():
            params = config["optimizer"]["params"]
            line = config["optimizer"]["name"]
            if isinstance(params.get("orthogonalizer"), dict):
                line += f" ({params['orthogonalizer']['name']})"
            key = (line, config["problem"]["params"]["kappa"], params.get("lr"))
            runs.setdefault(key, []).append(iters if iters >= 0 else math.inf)
        expected = {}
        for (line, kappa, _), values in runs.items():
            expected[(line, kappa)] = min(expected.get((line, kappa), math.inf), float(np.median(values)))
        table = {}
        for line in text.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 4 and cells[0] in ("gd", "muon (svd)", "muon (ns5)"):
                table[cells[0]] = cells[1:3]
        check(sorted(table) == ["gd", "muon (ns5)", "muon (svd)"], f"summary.md: lines {sorted(table)}: {text[:600]}")
        for line, cells in table.items():
            for kappa, cell in zip((1, 30), cells):
                want = expected.get((line, kappa))
                got = cell.split()[0]
                check(want is not None and (got == "never" if want == math.inf else float(got) == want),
                      f"summary.md: {line}, kappa {kappa}: '{cell}', expected median {want}")
    pngs = sorted(n for n in os.listdir(outdir) if n.endswith(".png"))
    check("convergence.png" in pngs and "iters_vs_kappa.png" in pngs, f"expected convergence and scaling figures, got {pngs}")
    for name in pngs:
        check_png(os.path.join(outdir, name))
    bad = python_tool(source_dir, "analyze", os.path.join(work, "missing.h5"), "--outdir", outdir, expect=2)
    check_refusal(bad, "analyze: cannot read", "missing.h5")


# ---- adamw-spectrum ----------------------------------------------------------------------

ADAMW_GRID = """name: smoke_adamw
seeds: 2
stop: {max_iters: 1500, tol: 0, metric: rel_error}
record: {every: 50, spectra: every, spectra_every: 100}
problem:
  name: matrix_factorization
  params: {symmetric: true, n: 12, rank: 2, k: 4, kappa: 10, init: small_random, init_scale: 1.0e-3}
optimizer:
  - name: adamw
    params: {lr: {values: [1.0e-2, 3.0e-2]}, weight_decay: {values: [0.1, 1.0]}}
"""


def test_adamw_spectrum(muonlab, source_dir, work):
    grid = write(os.path.join(work, "adamw.yaml"), ADAMW_GRID)
    result_file = os.path.join(work, "adamw.h5")
    run([muonlab, "run", grid, "-o", result_file, "-q"])
    outdir = os.path.join(work, "adamw")
    printed = python_tool(source_dir, "adamw-spectrum", result_file, "--outdir", outdir).stdout
    check_png(os.path.join(outdir, "smoke_adamw_top_sigma.png"))
    md_path = os.path.join(outdir, "smoke_adamw_top_sigma") + ".md"  # a file the tool writes
    if not check(os.path.isfile(md_path), f"{md_path} not written"):
        return
    text = open(md_path).read()
    check(text.strip() in printed, "the summary printed differs from the one written")

    # The table against the file: per (lr, wd) the seed mean of spectra/X/values[-1, 0].
    expected = {}
    with h5py.File(result_file, "r") as f:
        for cell_id, (config, _) in cell_configs(result_file).items():
            params = config["optimizer"]["params"]
            sigma = float(f[f"cells/{cell_id}/spectra/X/values"][-1, 0])
            expected.setdefault((params["lr"], params["weight_decay"]), []).append(sigma)
    rows = markdown_rows(text)
    check(len(rows) == 4 and all(r[0] == "X" for r in rows), f"expected 4 rows for block X: {rows}")
    for row in rows:
        lr, wd, x, sigma = (float(v) for v in row[1:5])
        check(math.isclose(x, math.sqrt(lr / wd), rel_tol=1e-3), f"sqrt(lr/wd) column {x} for lr {lr}, wd {wd}")
        samples = expected.get((lr, wd), [])
        check(len(samples) == 2 and math.isclose(sigma, float(np.mean(samples)), rel_tol=1e-3),
              f"lr {lr}, wd {wd}: table says {sigma}, the file's seed mean is {np.mean(samples) if samples else None}")
        check(0 < sigma < 100, f"lr {lr}, wd {wd}: top singular value {sigma} out of range")
    slope = re.search(r"Fitted log-log slope for X: (\S+)", text)
    if check(slope is not None, f"no fitted slope in the summary: {text}"):
        value = float(slope.group(1))
        # The least-squares slope through the table's own points, computed here.
        points = np.array([[math.log(float(r[3])), math.log(float(r[4]))] for r in rows])
        check(math.isclose(value, float(np.polyfit(points[:, 0], points[:, 1], 1)[0]), abs_tol=2e-3),
              f"fitted slope {value} is not the least-squares slope of the table")
        check(-3 < value < 3, f"fitted slope {value} out of range")

    no_adamw = profile_grid(muonlab, work)
    refused = python_tool(source_dir, "adamw-spectrum", no_adamw, "--outdir", outdir, expect=1)
    check_refusal(refused, "no adamw cells")
    refused = python_tool(source_dir, "adamw-spectrum", grid, expect=2)  # YAML, not HDF5
    check_refusal(refused, "adamw-spectrum: cannot read", "adamw.yaml")


# ---- plot-bench-orth -----------------------------------------------------------------------

def test_plot_bench_orth(muonlab, source_dir, work):
    csv = os.path.join(work, "bench.csv")
    run([muonlab, "bench-orth", "--shapes", "24x8,16x16", "--spectra", "geometric:1e2,gaussian", "--reps", "1",
         "--csv", csv])
    import pandas as pd
    data = pd.read_csv(csv)
    check({"orthogonalizer", "shape", "matrix", "rel_error", "cpu_vs_svd"} <= set(data.columns),
          f"bench-orth CSV columns: {list(data.columns)}")
    check(len(data) >= 4 and "svd" in set(data["orthogonalizer"]), "bench-orth CSV should have svd on 2 shapes x 2 kinds")
    png = os.path.join(work, "bench.png")
    printed = python_tool(source_dir, "plot-bench-orth", csv, png).stdout
    check(printed.strip() == f"figure: {png}", f"unexpected output: {printed!r}")
    check_png(png, min_width=600)
    default = python_tool(source_dir, "plot-bench-orth", csv).stdout  # next to the CSV
    check(default.strip() == f"figure: {png}", f"default output path: {default!r}")

    for args, words in (([], ["usage"]), ([os.path.join(work, "missing.csv")], ["cannot read"]),
                        ([write(os.path.join(work, "other.csv"), "a,b\n1,2\n")], ["lacks columns", "rel_error"])):
        check_refusal(python_tool(source_dir, "plot-bench-orth", *args, expect=2), *words)


# ---- bench-grid ----------------------------------------------------------------------------

SPEEDUP = re.compile(r"^  (paper|tiny) speed-up -j 2 over -j 1: ([0-9.]+)x; two independent processes: ([0-9.]+)x; "
                     r"-j 2 reaches ([0-9]+)% of that$", re.M)


def test_bench_grid(muonlab, source_dir, work):
    """One repetition, one seed (2 cells a grid): checks the report, not the speed-up (the
    machine may be busy): each ratio printed is the one of the medians printed."""
    build = os.path.dirname(os.path.dirname(muonlab))
    script = os.path.join(source_dir, "tools", "bench-grid")
    out = run([script, build, "1", "1"]).stdout
    medians = {}
    for grid in ("paper", "tiny"):
        check(re.search(rf"^{grid}: 2 cells \(", out, re.M) is not None, f"{grid}: expected 2 cells: {out}")
        # Each line: the median (3 decimals) and, in parentheses, the runs it is the median of.
        times = re.search(rf"^{grid}:.*\n  -j 1: +median ([0-9.]+) s +\(([0-9. ]+)\)\n  -j 2: +median ([0-9.]+) s +"
                          rf"\(([0-9. ]+)\)\n  two processes: +median ([0-9.]+) s +\(([0-9. ]+)\)", out, re.M)
        if check(times is not None, f"{grid}: no timing lines: {out}"):
            runs = [[float(v) for v in times.group(i).split()] for i in (2, 4, 6)]
            medians[grid] = [float(np.median(r)) for r in runs]
            for i, (printed, runs_of) in enumerate(zip(times.group(1, 3, 5), runs)):
                check(len(runs_of) == 1 and abs(float(printed) - medians[grid][i]) <= 0.0005 + 1e-9,
                      f"{grid}: median {printed} of the runs {runs_of}")
            check(all(0 < t < 60 for t in medians[grid]), f"{grid}: wall times out of range: {medians[grid]}")
    speedups = SPEEDUP.findall(out)
    check([s[0] for s in speedups] == ["paper", "tiny"], f"expected a speed-up line per grid: {out}")
    for grid, j2, pair, percent in speedups:
        if grid not in medians:
            continue
        t1, t2, tp = medians[grid]
        check(abs(float(j2) - t1 / t2) <= 0.005 + 1e-9 and abs(float(pair) - t1 / tp) <= 0.005 + 1e-9
              and abs(int(percent) - 100 * tp / t2) <= 0.5 + 1e-9,
              f"{grid}: {j2}x, {pair}x, {percent}% are not the ratios of the medians {t1}, {t2}, {tp}")

    for args, words in (([os.path.join(work, "nowhere")], ["not found"]), ([build, "0"], ["positive integers", "'0'"]),
                        ([build, "1", "x"], ["positive integers", "'x'"])):
        check_refusal(run([script, *args], expect=2), *words)


def test_compare_results(muonlab, source_dir, work):
    """Two runs of one grid are identical (exit 0); one changed number in a trajectory, an
    attribute only one file has, and a config written in another number form are reported
    or accepted as documented."""
    first = profile_grid(muonlab, work)
    second = os.path.join(work, "again.h5")
    run([muonlab, "run", os.path.join(work, "profile.yaml"), "-o", second, "-q"])
    same = python_tool(source_dir, "compare-results", first, second, "--ignore-timing").stdout
    check("0 differ" in same, "two runs of one grid differ: " + same[-500:])
    with h5py.File(second, "r+") as f:
        cell_id = sorted(f["cells"])[0]
        loss = f["cells"][cell_id]["trajectory/loss"]
        loss[1] = np.nextafter(loss[1], np.inf)  # one bit
        f.attrs["added_later"] = "x"
    changed = python_tool(source_dir, "compare-results", first, second, "--ignore-timing", expect=1).stdout
    check(f"/cells/{cell_id}/trajectory/loss" in changed, "a one-bit change is not reported: " + changed[-500:])
    check("/@added_later: only in B" in changed, "an added attribute is not reported without --newer-b")
    newer = python_tool(source_dir, "compare-results", first, second, "--ignore-timing", "--newer-b", expect=1).stdout
    check("added_later" not in newer, "--newer-b reports an attribute only B has")
    check_refusal(python_tool(source_dir, "compare-results", first, expect=2), "usage")


TESTS = {
    "compare-results": test_compare_results,
    "build": test_build,
    "run": test_run,
    "setup": test_setup,
    "analyze": test_analyze,
    "performance-profile": test_performance_profile,
    "adamw-spectrum": test_adamw_spectrum,
    "plot-bench-orth": test_plot_bench_orth,
    "bench-grid": test_bench_grid,
}


def main(argv):
    if len(argv) not in (4, 6) or argv[3] not in TESTS or (len(argv) == 6 and argv[4] != "--keep"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    muonlab, source_dir, tool = os.path.abspath(argv[1]), os.path.abspath(argv[2]), argv[3]
    if len(argv) == 6:
        work = os.path.abspath(argv[5])
        os.makedirs(work, exist_ok=True)
        TESTS[tool](muonlab, source_dir, work)
    else:
        with tempfile.TemporaryDirectory(prefix=f"muonlab-smoke-{tool}.") as work:
            TESTS[tool](muonlab, source_dir, work)
    if failures:
        print(f"tools/{tool}: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"tools/{tool}: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
