"""On-disk formats: metadata records and their translators."""
