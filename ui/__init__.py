"""Streamlit-only helpers shared by every page: settings form, job panel, result tabs, app frame."""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# A folder named pages/ beside app.py makes Streamlit start in its legacy multipage mode: until someone opens the
# root URL (where app.py calls st.navigation), a deep link such as /xai?run=ID runs pages/xai.py on its own,
# without the app's frame. Every page imports ui, so the first such run switches Streamlit to app.py's router
# and reruns, and the link opens inside the app as intended.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
