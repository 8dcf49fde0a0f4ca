"""Runs on disk and in the background: the store, jobs and their worker, shared demos."""
