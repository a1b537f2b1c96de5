//! Development-only helpers: fresh PostgreSQL databases and SQLite files, NATS, the emulator and services spawned on port 0.
