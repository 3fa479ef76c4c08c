"""Transfer learning page: a pretrained model versus training from scratch when labels are few."""

import streamlit as st

from engine.core.data import DataError
from engine.transfer.data import read_text_csv
from ui.form import setting
from ui.page import technique_page
from ui.upload import REFUSED, csv_upload

INTRO = """
**Transfer learning** reuses a model trained on a big task for a new task with only a few labelled examples.
*Feature extraction* freezes the pretrained layers and trains only a small new head; *fine-tuning* also lets some
pretrained layers change, gently (a smaller learning rate). Both are compared with a model **trained from scratch**
on the same few labels.

- **Text**: a sentence encoder pretrained on about a billion sentence pairs already places sentences on the same
  topic close together, so 3 labelled sentences per topic go a long way. Bag-of-words from scratch only knows the
  words it has seen.
- **Images**: a small network pretrained on half of scikit-learn's handwritten digits learns the digits from a few
  labelled images of the other half, and beats a network trained from scratch on the same few images. Choose the
  narrow source (*digits 0-4*, then learn 5-9) to see the opposite, **negative transfer**: features tuned to other
  digits can do worse than a fresh network, and the page says so when it happens.

Turn on the *sweep* to see accuracy against the number of labels for every strategy.
"""


def upload_inputs() -> dict | None:
    """Text track + "upload": a CSV with a text column and a label column, checked on the server."""
    if setting("transfer", "track", "text") != "text" or setting("transfer", "dataset") != "upload":
        return {}
    upload = csv_upload("transfer", help="A header row, one column of sentences and one column of class labels.")
    if upload is REFUSED:
        return None  # the message is on the page
    if upload is None:
        return {}
    token, df = upload
    columns = list(df.columns)
    text_column = st.selectbox(
        "Text column", columns, key="transfer.text_pick", help="The column that holds the sentences."
    )
    label_column = st.selectbox(
        "Label column",
        columns,
        index=len(columns) - 1,
        key="transfer.label_pick",
        help="The column that holds each sentence's class.",
    )
    try:
        read_text_csv(df, text_column, label_column, int(setting("transfer", "labels_per_class", 3)))
    except DataError as e:
        st.error(str(e), icon=":material/error:")
        return None
    return {"upload": token, "text_column": text_column, "label_column": label_column}


technique_page("transfer", intro=INTRO, extra_inputs=upload_inputs)
