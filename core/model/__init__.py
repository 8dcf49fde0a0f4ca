"""Base models, encoding and heads, the Classifier / Embedder that predict."""
