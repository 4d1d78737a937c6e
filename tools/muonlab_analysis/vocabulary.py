"""The words result files store, as muonlab writes them (framework/src/model/vocabulary.hpp)."""

RUNNING = "running"        # written first; a cell still running when its run was killed
CONVERGED = "converged"
MAX_ITERS = "max_iters"
TIME_LIMIT = "time_limit"
DIVERGED = "diverged"
FAILED = "failed"          # the cell ended in an error (message in its `error` attribute)

STATUSES = (RUNNING, CONVERGED, MAX_ITERS, TIME_LIMIT, DIVERGED, FAILED)
# Cells that ended by a stopping rule: results (diverged counts).
COMPLETE = (CONVERGED, MAX_ITERS, TIME_LIMIT, DIVERGED)

PLUGIN_KINDS = ("problem", "optimizer", "orthogonalizer")
