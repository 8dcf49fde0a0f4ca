"""Labelling: from a pool of unlabelled texts and a list of labels to labelled rows, asking for the
texts that teach the head most (the pool, its cached embeddings, the head refitted per batch, the
strategy that chooses the next batch, and the session kept in the workspace)."""
