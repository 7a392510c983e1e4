"""Environments: exact finite MDPs (finite.py); later the stateless env of 000 and gymnasium glue."""
