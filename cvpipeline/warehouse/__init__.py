"""The warehouse as storage: its schema, engines, writes, reads, slices, views and roles (SQLAlchemy)."""
