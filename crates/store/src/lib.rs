//! SQL storage for Souk services: sqlx pools on SQLite and PostgreSQL, migrations runner, SQLSTATE mapping, transactional outbox.
