"""Environments: exact finite MDPs (finite.py)."""
