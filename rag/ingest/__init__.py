"""Ingest: files -> Articles -> chunks (loaders, chunking, the pipeline that commits them, uploads, Ray)."""
