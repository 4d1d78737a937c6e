"""Reading a muonlab HDF5 result file (docs/design.md section 5) into plain Python/pandas objects.

Everything here is read-only and tolerant of missing pieces: a cell without a trajectory,
observables or theory yields None for that piece instead of an exception.
"""
import json
import re
import sys

import h5py
import numpy as np
import pandas as pd

try:
    import yaml
except ImportError:  # PyYAML is optional: the stop rule has a plain-text fallback
    yaml = None


def decode(value):
    """HDF5 strings arrive as bytes (index columns) or str (attributes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [decode(v) for v in value.tolist()]
    return value


def hashable(value):
    """Parameter values become dict keys and groupby keys: lists turn into tuples."""
    if isinstance(value, list):
        return tuple(hashable(v) for v in value)
    return value


def flatten_config(config):
    """{"problem": {"name", "params"}, "optimizer": {...}, "seed"} -> flat dict with keys
    problem, optimizer, seed, problem.<p>, optimizer.<p>; a nested component parameter (the
    orthogonalizer) contributes optimizer.<p> = its name and optimizer.<p>.<q> = its params."""
    flat = {"seed": config.get("seed")}
    for role in ("problem", "optimizer"):
        component = config.get(role, {})
        flat[role] = component.get("name")
        for key, value in component.get("params", {}).items():
            if isinstance(value, dict) and "name" in value:
                flat[f"{role}.{key}"] = value["name"]
                for inner, inner_value in value.get("params", {}).items():
                    flat[f"{role}.{key}.{inner}"] = hashable(inner_value)
            else:
                flat[f"{role}.{key}"] = hashable(value)
    return flat


def parse_overrides(raw):
    """The root attribute 'overrides' is one string (one key=value per line) or an array."""
    if raw is None:
        return []
    raw = decode(raw)
    items = raw if isinstance(raw, list) else str(raw).splitlines()
    return [item.strip() for item in items if item and "=" in item]


def scalar(text):
    """A YAML scalar as the grid writes it: number, true/false, or a bare string."""
    text = text.strip().strip("'\"")
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def stop_section(grid_yaml):
    """For result files without the root attribute `stop`: the grid's top-level `stop:` mapping as a dict ({} if absent or unreadable)."""
    if yaml is not None:
        try:
            document = yaml.safe_load(grid_yaml) if grid_yaml else None
        except yaml.YAMLError:
            return {}
        stop = document.get("stop") if isinstance(document, dict) else None
        # YAML 1.1 reads 1e-6 (no dot) as a string; the grid parser reads it as a number.
        return {k: scalar(v) if isinstance(v, str) else v for k, v in stop.items()} if isinstance(stop, dict) else {}
    # Without PyYAML: the flow form `stop: {a: 1, b: 2}` or an indented block under `stop:`.
    flow = re.search(r"^stop:\s*\{([^}]*)\}", grid_yaml or "", re.M)
    if flow:
        items = flow.group(1).split(",")
    else:
        block = re.search(r"^stop:\s*(?:#.*)?\n((?:[ \t]+\S.*\n?)+)", grid_yaml or "", re.M)
        items = block.group(1).splitlines() if block else []
    stop = {}
    for item in items:
        key, sep, value = item.split("#", 1)[0].partition(":")
        if sep and key.strip():
            stop[key.strip()] = scalar(value)
    return stop


def stop_rule(grid_yaml, overrides):
    """The grid's stop rule {tol, metric, max_iters, ...}, --set overrides applied; {} if unknown."""
    stop = stop_section(grid_yaml)
    for item in overrides:
        key, _, value = item.partition("=")
        if key.startswith("stop."):
            stop[key[len("stop."):]] = scalar(value)
    return stop


def open_result(path, prog):
    """ResultFile(path); a file that is missing or not HDF5 ends the program with a one-line
    message and exit status 2."""
    try:
        return ResultFile(path)
    except OSError as e:
        print(f"{prog}: cannot read {path}: {e}", file=sys.stderr)
        raise SystemExit(2) from None


class ResultFile:
    """One result file: its /index joined with each cell's flattened configuration."""

    def __init__(self, path):
        self.path = path
        self.h5 = h5py.File(path, "r")
        attrs = self.h5.attrs
        self.grid_name = decode(attrs.get("grid_name", ""))
        if "stop" in attrs:  # the resolved rule, as the run used it
            self.stop = json.loads(decode(attrs["stop"]))
        else:  # files written before muonlab stored it: re-read the grid text
            self.stop = stop_rule(decode(attrs.get("grid_yaml", "")), parse_overrides(attrs.get("overrides")))
        self.cells = self._cell_table()

    def close(self):
        self.h5.close()

    def _index(self):
        if "index" not in self.h5:
            return pd.DataFrame(columns=["cell_id", "status"])
        index = pd.DataFrame(self.h5["index"][:])
        for column in index.columns:
            if index[column].dtype == object:
                index[column] = index[column].map(decode)
        return index

    def _cell_table(self):
        index = self._index()
        rows = []
        for record in index.to_dict("records"):
            cell = self.h5.get(f"cells/{record['cell_id']}")
            config = {}
            error = ""
            if cell is not None:
                config = json.loads(decode(cell.attrs.get("config", "{}")) or "{}")
                error = decode(cell.attrs.get("error", ""))
            flat = flatten_config(config)
            # The index columns win for what they hold (a cell without config keeps them).
            for key in ("problem", "optimizer", "seed"):
                if flat.get(key) is None:
                    flat[key] = record.get(key)
            # The swept-parameter columns of /index (problem.<p>, ...) repeat the config: the
            # config's values (exact types) are kept.
            flat.update({k: v for k, v in record.items() if k not in ("problem", "optimizer", "seed") and k not in flat})
            flat["error"] = error
            rows.append(flat)
        return pd.DataFrame(rows)

    # ---- per-cell pieces ---------------------------------------------------------------

    def _group(self, cell_id, name):
        return self.h5.get(f"cells/{cell_id}/{name}")

    def trajectory(self, cell_id, column):
        """(step, values) of one trajectory column, or None."""
        group = self._group(cell_id, "trajectory")
        if group is None or column not in group or "step" not in group:
            return None
        return group["step"][:], group[column][:]

    def trajectory_columns(self, cell_id):
        group = self._group(cell_id, "trajectory")
        return [] if group is None else list(group)

    def observable(self, cell_id, name):
        """(step [T], values [T x k]) of observables/<name>, or None."""
        group = self._group(cell_id, f"observables/{name}")
        if group is None or "values" not in group or "step" not in group:
            return None
        return group["step"][:], np.atleast_2d(group["values"][:].T).T

    def observable_names(self, cell_id):
        group = self._group(cell_id, "observables")
        return [] if group is None else list(group)

    def theory(self, cell_id):
        """{name: array} of theory/ (including 'step'), or {} when the cell has none."""
        group = self._group(cell_id, "theory")
        if group is None:
            return {}
        return {name: group[name][:] for name in group if isinstance(group[name], h5py.Dataset)}
