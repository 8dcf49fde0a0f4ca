"""Streamlit glue for the app: session state, cached loaders, shared widgets and charts."""
