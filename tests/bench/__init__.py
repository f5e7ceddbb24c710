"""Benchmarks (not pass/fail tests): ``python -m tests.bench.run [--quick] [--out DIR]``, and
instructions per operation under callgrind: ``python -m tests.bench.instructions``.

See docs/performance.md for the method (interleaved rounds, minima, ratios to the lower bound).
"""
