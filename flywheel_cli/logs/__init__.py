"""Log sources: the record schema, validation, and the JSONL and Elasticsearch readers."""
