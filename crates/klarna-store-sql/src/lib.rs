//! SQL store adapter for the Klarna toolkit: SQLite (embedded default) and PostgreSQL.
