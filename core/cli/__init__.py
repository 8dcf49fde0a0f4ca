"""`python -m core ...`: parse arguments, call the core API, print, exit 0 or 2."""
