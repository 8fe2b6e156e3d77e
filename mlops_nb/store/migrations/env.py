"""Alembic's entry point for mlops_nb's store: see :mod:`mlops_nb.store._migrate`."""

from alembic import context

from mlops_nb.store._migrate import run_env

run_env(context)
