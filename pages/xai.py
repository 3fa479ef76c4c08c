"""Explainable AI page: an MLP on real tables (or your CSV), explained with SHAP."""

import streamlit as st

from engine.core.data import DataError, left_out_text, table_from_csv
from ui.form import setting
from ui.page import technique_page
from ui.upload import REFUSED, csv_upload

INTRO = """
A neural network is trained on a table of measurements (each row an example, each column a feature). SHAP then
splits every prediction among the features: **base value + the features' SHAP values = the model's output** for
that row, so you can see which inputs pushed a prediction up or down. A linear model trained on the same rows tells
you whether the network's extra complexity paid off, and permutation importance double-checks SHAP's ranking.
"""


def upload_inputs() -> dict | None:
    """When "upload" is chosen: a CSV and the column to predict, validated on the server. None: what is wrong with
    the file is on the page (so the form adds no "Upload a CSV" hint)."""
    if setting("xai", "dataset") != "upload":
        return {}
    upload = csv_upload("xai", help="A table with a header row; numeric feature columns and one column to predict.")
    if upload is REFUSED:
        return None
    if upload is None:
        return {}
    token, df = upload
    target = st.selectbox(
        "Column to predict",
        list(df.columns),
        index=len(df.columns) - 1,
        key="xai.target_pick",
        help="The network learns to predict this column from the numeric others.",
    )
    try:
        table_from_csv(df, target)
    except DataError as e:
        st.error(str(e), icon=":material/error:")
        return None
    unused = left_out_text(df, target)
    if unused:
        st.info(unused, icon=":material/filter_alt:")  # column names go through code(): shown as typed
    return {"upload": token, "target": target}


technique_page("xai", intro=INTRO, extra_inputs=upload_inputs)
