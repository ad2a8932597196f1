"""Storage: SQLAlchemy Core tables and the repository the engine writes through."""
