"""Domain model: SQLModel tables, API schemas and pure domain rules.

This package file imports nothing on purpose: workflow code imports the pure modules
(`models.stages`, `models.money`, `models.status`) without pulling in SQLAlchemy tables.
`models.tables` registers every table.
"""
