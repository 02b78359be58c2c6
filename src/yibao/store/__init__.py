"""Storage: SQLAlchemy 2 Core tables, the store behind the use cases, Alembic migrations."""
