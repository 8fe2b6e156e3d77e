"""Drift Ops (work in progress)."""
