"""The replicated data model on automerge: record schemas, record documents, text documents,
change application and per-record history. Knows nothing of storage, networking or Qt."""
