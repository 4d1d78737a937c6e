#!/usr/bin/python3
"""tools/merge-shards against an unsharded run of the same grid.

usage: merge_shards_test.py MUONLAB_BINARY SOURCE_DIR

Runs a small grid whole and as two shards, merges the shards and checks that the merged file
holds exactly the cells of the whole run with the same attributes and datasets. Also merges
a file whose cell keeps its attributes in dense storage (as muonlab wrote them before cell
attributes were made compact), which HDF5 1.10's object copy cannot copy with attributes,
and checks the refusals (existing output, shards of different grids).
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

GRID = """name: merge_test
seeds: 2
stop: {max_iters: 40, tol: 0, metric: rel_error}
record: {every: 5, spectra: log, spectra_per_decade: 5}
problem:
  name: matrix_factorization
  params: {n: 12, rank: 2, kappa: {values: [1, 10]}}
optimizer:
  - name: gd
    params: {lr: 0.3}
  - name: muon
    params: {lr: 0.05, orthogonalizer: svd}
"""

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAILED: {message}", file=sys.stderr)


def run(args, expect=0):
    result = subprocess.run(args, capture_output=True, text=True)
    check(result.returncode == expect,
          f"{' '.join(args)} exited {result.returncode}, expected {expect}: {result.stderr.strip()}")
    return result


def attrs_of(obj):
    return {key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in obj.attrs.items()}


def compare_cell(reference, merged, cell_id, timed):
    """Attributes and data of one cell; `timed`: also the wall-clock column time_s."""
    a, b = reference["cells"][cell_id], merged["cells"][cell_id]
    check(attrs_of(a) == attrs_of(b), f"cell {cell_id}: attributes differ")
    names = []
    a.visit(names.append)
    for name in names:
        check(name in b, f"cell {cell_id}: {name} missing after the merge")
        if name not in b:
            continue
        check(attrs_of(a[name]) == attrs_of(b[name]), f"cell {cell_id}/{name}: attributes differ")
        if isinstance(a[name], h5py.Dataset) and (timed or not name.endswith("time_s")):
            check(np.array_equal(a[name][()], b[name][()], equal_nan=a[name].dtype.kind == "f"),
                  f"cell {cell_id}/{name}: data differ")


def test_shards_merge_to_the_whole_run(muonlab, merge, work):
    grid = os.path.join(work, "grid.yaml")
    with open(grid, "w") as f:
        f.write(GRID)
    whole, s0, s1, out = (os.path.join(work, name) for name in ("whole.h5", "s0.h5", "s1.h5", "merged.h5"))
    run([muonlab, "run", grid, "-o", whole, "-q"])
    run([muonlab, "run", grid, "-o", s0, "--shard", "0/2", "-q"])
    run([muonlab, "run", grid, "-o", s1, "--shard", "1/2", "-q"])
    run([merge, out, s0, s1])
    if not os.path.exists(out):
        return
    with h5py.File(whole, "r") as w, h5py.File(out, "r") as m:
        check(len(w["cells"]) == 8, f"the whole run has {len(w['cells'])} cells, expected 8")
        check(sorted(w["cells"]) == sorted(m["cells"]), "merged file has other cells than the whole run")
        for cell_id in set(w["cells"]) & set(m["cells"]):
            compare_cell(w, m, cell_id, timed=False)  # the same computation, run again
        for shard_path in (s0, s1):
            with h5py.File(shard_path, "r") as shard:
                for cell_id in shard["cells"]:
                    compare_cell(shard, m, cell_id, timed=True)  # a copy: identical
        whole_ids = sorted(row.decode() if isinstance(row, bytes) else row for row in w["index"]["cell_id"])
        merged_ids = sorted(row.decode() if isinstance(row, bytes) else row for row in m["index"]["cell_id"])
        check(whole_ids == merged_ids, "merged /index lists other cells than the whole run's")
        check(m.attrs["grid_yaml"] == w.attrs["grid_yaml"], "merged file lost the grid text")
        check(m.attrs["merged_from"] == f"{s0}\n{s1}", "merged_from does not list the shards")

    # Refusals: an existing output is left alone; shards of another grid are refused.
    before = os.path.getmtime(out)
    run([merge, out, s0, s1], expect=2)
    check(os.path.getmtime(out) == before, "a refused merge touched the existing output")
    other_grid = os.path.join(work, "other.yaml")
    with open(other_grid, "w") as f:
        f.write(GRID.replace("seeds: 2", "seeds: 1"))
    other = os.path.join(work, "other.h5")
    run([muonlab, "run", other_grid, "-o", other, "--shard", "1/2", "-q"])
    refused = run([merge, os.path.join(work, "mixed.h5"), s0, other], expect=2)
    check("grid file text" in refused.stderr, f"mixed-grid refusal does not say why: {refused.stderr.strip()}")
    check(not os.path.exists(os.path.join(work, "mixed.h5")), "a refused merge left an output file")


def test_dense_attributes_are_copied(merge, work):
    shard = os.path.join(work, "dense.h5")
    with h5py.File(shard, "w", libver=("v108", "v108")) as f:
        f.attrs["format"] = "muonlab"
        f.attrs["grid_yaml"] = "name: dense\n"
        f.attrs["overrides"] = ""
        cell = f.create_group("cells/c0")
        for i in range(20):  # past 8 attributes HDF5 moves them to dense storage
            cell.attrs[f"text_{i}"] = "value " * i
        data = cell.create_dataset("trajectory/loss", data=np.arange(5.0))
        data.attrs["unit"] = "1"
    out = os.path.join(work, "dense_merged.h5")
    run([merge, out, shard])
    if os.path.exists(out):
        with h5py.File(out, "r") as m:
            check(m["cells/c0"].attrs["text_19"] == "value " * 19, "dense attribute lost in the merge")
            check(m["cells/c0/trajectory/loss"].attrs["unit"] == "1", "dataset attribute lost in the merge")
            check(np.array_equal(m["cells/c0/trajectory/loss"][()], np.arange(5.0)), "dataset changed in the merge")


def main(argv):
    muonlab, source_dir = argv[1], argv[2]
    merge = os.path.join(source_dir, "tools", "merge-shards")
    with tempfile.TemporaryDirectory(prefix="muonlab-merge-test.") as work:
        test_shards_merge_to_the_whole_run(muonlab, merge, work)
        test_dense_attributes_are_copied(merge, work)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("merge-shards: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
