"""Ingest official dermoscopy archives into one checked Parquet manifest."""
