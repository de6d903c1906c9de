"""Benchmark scripts (`python -m benchmarks.NAME`), each writing JSON under results/bench/; analyses in benchmarks.analysis."""
