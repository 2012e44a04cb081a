"""The database: engine and sessions, SQLModel tables, Alembic migrations."""
