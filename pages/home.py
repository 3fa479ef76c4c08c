"""Home: one plain sentence per technique, each linking to its page. Imports nothing heavy."""

import streamlit as st

import engine
from ui.router import use_app_router

use_app_router()
st.title("Frontier Lab")
st.markdown(
    "See advanced deep learning work, without writing code. Pick a technique, move a few sliders, press "
    "**Train**, and watch a real model learn; then read what it learned in interactive charts and SHAP "
    "explanations."
)
cols = st.columns(2)
for i, entry in enumerate(engine.TECHNIQUES.values()):
    with cols[i % 2].container(border=True):
        st.page_link(entry.page, label=f"**{entry.title}**", icon=entry.icon)
        st.markdown(entry.summary)
