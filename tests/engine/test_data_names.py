"""Bundled tables carry names a person can read; an uploaded CSV keeps the names its author wrote."""

import re

import numpy as np
import pandas as pd
import pytest

from engine.core.data import SKLEARN_TABLES, sklearn_table, table_from_csv

CODE_NAME = re.compile(r"^(s\d|class_\d)$")


@pytest.mark.parametrize("name", list(SKLEARN_TABLES))
def test_bundled_tables_have_readable_feature_and_class_names(name):
    table = sklearn_table(name)
    names = table.feature_names + (table.class_names or [])
    assert not [n for n in names if CODE_NAME.match(n) or "_" in n], names
    assert len(table.feature_names) == table.X.shape[1] == len(set(table.feature_names))
    if table.task == "classification":
        assert len(table.class_names) == len(np.unique(table.y)) == len(set(table.class_names))


def test_wine_classes_are_cultivars_and_diabetes_says_its_values_are_scaled():
    assert sklearn_table("wine").class_names == ["cultivar 1", "cultivar 2", "cultivar 3"]
    assert sklearn_table("wine").feature_names[1] == "malic acid"
    diabetes = sklearn_table("diabetes").feature_names
    assert diabetes[2] == "body mass index (scaled)" and diabetes[8] == "log triglycerides (s5, scaled)"
    assert all(n.endswith("scaled)") for n in diabetes)
    assert sklearn_table("iris").feature_names[0] == "sepal length (cm)"  # scikit-learn's own, with units
    assert sklearn_table("breast_cancer").class_names == ["malignant", "benign"]


def test_an_uploaded_csv_keeps_its_own_column_and_class_names():
    df = pd.DataFrame({"s5": np.arange(40.0), "malic_acid": np.arange(40.0) % 3, "label": ["class_0", "class_1"] * 20})
    table = table_from_csv(df, "label")
    assert table.feature_names == ["s5", "malic_acid"] and table.class_names == ["class_0", "class_1"]
