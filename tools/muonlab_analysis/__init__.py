"""Analysis of muonlab result files: convergence figures, iterations-to-tolerance scaling
with a sweep parameter, measured spectral coordinates against the problem's theory, and a
markdown summary. Entry point: tools/analyze (see muonlab_analysis.cli)."""
