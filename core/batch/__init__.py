"""Batch Embed / Classify over files of any size: parts, the local and the Ray engine."""
