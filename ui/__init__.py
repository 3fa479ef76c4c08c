"""Streamlit-only helpers shared by every page: settings form, job panel, result tabs, app frame."""
