"""The index on disk: SQLite records, the vector store, BM25, the dense matrix, snapshots and the integrity check."""
