"""Analyses behind the tables in ``results/``: each module reads outputs (cached rewrites, ``raqo compare`` JSON)
and prints or writes a table. Run from the repository root as ``python -m benchmarks.analysis.NAME --help``.

Most read the rewrite caches that ``raqo eval`` / ``raqo compare`` wrote and the adapters under ``runs/`` that
``raqo train`` wrote (``--runs``): re-run those commands first (each ``results/*/README.md`` names them)."""
