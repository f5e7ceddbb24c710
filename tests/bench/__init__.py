"""Benchmarks (not pass/fail tests): ``python -m tests.bench.run [--quick] [--out DIR]``.

See docs/performance.md for the method (interleaved rounds, minima, ratios to the lower bound).
"""
