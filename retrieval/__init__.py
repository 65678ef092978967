"""Query layer: the on-disk index (Parquet + FAISS + manifest), search and score fusion."""
