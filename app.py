"""Frontier Lab: a router over the technique pages, with the shared sidebar. Nothing else lives here."""

from pathlib import Path

import streamlit as st

from ui.frame import pages, sidebar

# A local icon: a Material icon name here would make browsers fetch the favicon from Google's font servers.
st.set_page_config(page_title="Frontier Lab", page_icon=str(Path(__file__).parent / "ui" / "icon.png"), layout="wide")
page = st.navigation(pages())
sidebar(page)
page.run()
