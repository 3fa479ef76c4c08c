"""Frontier Lab: a router over the technique pages, with the shared sidebar. Nothing else lives here."""
import streamlit as st

from ui.frame import pages, sidebar

st.set_page_config(page_title="Frontier Lab", page_icon=":material/science:", layout="wide")
page = st.navigation(pages())
sidebar()
page.run()
