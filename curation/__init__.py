"""Dataset curation on top of an index: dedup, filter, cluster, sample, export (``vidsearch curate``)."""
