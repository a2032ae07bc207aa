"""Warehouse step: the tables of SPEC §3, shaped, written and read through SQLAlchemy."""
