"""Facts read from the evidence beside the history: logs, batch trail, snapshot, embeddings."""
