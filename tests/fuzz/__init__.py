"""Fuzzing harnesses for xmppsec (hypothesis; atheris when installed).

``python -m tests.fuzz.run --seconds N [--target NAME]`` runs them for a time budget;
tests/test_fuzz.py runs a short deterministic pass in the test suite. docs/fuzzing.md says
what each target checks.
"""
