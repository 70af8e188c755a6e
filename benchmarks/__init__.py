"""Benchmarks: `make bench` (python -m benchmarks). Each compares against a named baseline in the same run."""
