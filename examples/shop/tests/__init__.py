"""Tests of the shop example (a package, so its conftest does not shadow tests/conftest.py)."""
