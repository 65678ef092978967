"""The on-disk store: append-only fragments listed by versioned snapshots, its write transaction,
ANN indexes, codecs and compaction. ``README.md`` in this folder maps the files."""
