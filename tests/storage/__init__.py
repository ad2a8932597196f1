"""Storage tests: SQLite and PostgreSQL through one code path."""
