"""file_storage: persistent queues and component state in one SQLite file (WAL)."""
