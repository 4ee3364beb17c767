"""Benchmarks: run each module with `python -m tests.bench.<name>`; they print figures and the command."""
