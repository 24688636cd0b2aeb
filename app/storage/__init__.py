"""Where a profile keeps its data: encrypted SQLite, automerge documents, the search index,
files."""
