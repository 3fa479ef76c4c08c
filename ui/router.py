"""The one place that touches a Streamlit internal: deep links on a fresh server open inside app.py's router.

Streamlit 1.67 behaviour this covers: when a folder named ``pages/`` sits beside the main script, the first
``PagesManager`` sets the class flag ``PagesManager.uses_pages_directory = True`` (legacy multipage mode, kept
for old apps). Until some session runs ``app.py`` (whose ``st.navigation`` sets the flag to False for the
whole server), a deep link such as ``/xai?run=ID`` runs ``pages/xai.py`` on its own, without the app's
frame. No public setting turns legacy mode off (checked: ``config.py`` has none; ``st.navigation`` is the
only public path, and it runs only from app.py). Every page calls :func:`use_app_router` first: in legacy
mode it switches the server to app.py's router and reruns, so the link opens inside the app.
``tests/ui/test_router.py`` fails when an upgrade changes this behaviour (then delete this module).
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def use_app_router() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get("_router_switched"):  # once per session: a rerun would drop a click
            st.session_state["_router_switched"] = True
            st.rerun()
