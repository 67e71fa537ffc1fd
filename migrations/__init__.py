"""Alembic migrations; `valuegate migrate` runs them."""
