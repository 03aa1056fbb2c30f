"""Alembic migrations; they run identically on SQLite (batch mode) and PostgreSQL."""
