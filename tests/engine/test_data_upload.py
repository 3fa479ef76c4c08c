"""Uploaded CSVs: the column separator is detected (comma, semicolon, tab), a semicolon file's decimal commas are
read as numbers, and the columns left out of the features are named with why."""

import pandas as pd
import pytest

from engine.core.data import DataError, left_out, left_out_text, read_csv, separator, table_from_csv


def _rows(sep: str, decimal: str = ".", n: int = 40) -> bytes:
    lines = [sep.join(["size", "weight", "colour", "label"])]
    for i in range(n):
        size = f"{i % 7}{decimal}5"
        lines.append(sep.join([size, str((i * 3) % 11), f"c{i % 3}", "big" if i % 7 > 3 else "small"]))
    return "\n".join(lines).encode()


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_the_separator_is_detected(sep):
    raw = _rows(sep, decimal="," if sep == ";" else ".")
    assert separator(raw) == sep
    df = read_csv(raw)
    assert list(df.columns) == ["size", "weight", "colour", "label"]
    table = table_from_csv(df, "label")
    assert table.feature_names == ["size", "weight"] and table.X[1, 0] == pytest.approx(1.5)


def test_a_semicolon_file_with_decimal_points_and_quoted_text_reads_too():
    raw = b'name;x;y\n"a; b";1.5;2\n"c";2.5;3\n'
    assert separator(raw) == ";"
    df = read_csv(raw)
    assert df["name"].tolist() == ["a; b", "c"] and df["x"].tolist() == [1.5, 2.5]


def test_commas_inside_quotes_do_not_make_a_comma_file_a_semicolon_one():
    raw = b'text,label\n"hello; there, friend",1\n"bye",0\n'
    assert separator(raw) == ","
    assert read_csv(raw)["text"].tolist() == ["hello; there, friend", "bye"]


def test_a_one_column_file_stays_one_column():
    assert separator(b"value\n1\n2\n") == ","


def test_left_out_columns_are_named_with_why():
    df = read_csv(_rows(","))
    df["flag"] = [True, False] * 20
    assert left_out(df, "label") == {"colour": "text, for example `c0`", "flag": "true/false values"}
    text = left_out_text(df, "label")
    assert "`colour`" in text and "`flag`" in text and "numbers only" in text
    assert left_out_text(df[["size", "label"]], "label") == ""


def test_a_column_name_is_shown_as_code_not_markdown():
    df = pd.DataFrame({"[x](http://evil)": ["a", "b"] * 20, "f": range(40), "label": ["p", "q"] * 20})
    assert "`[x](http://evil)`" in left_out_text(df, "label")


def test_no_numeric_features_says_which_columns_were_left_out():
    df = pd.DataFrame({"colour": ["red", "blue"] * 20, "label": ["p", "q"] * 20})
    with pytest.raises(DataError, match=r"no numeric feature.*`colour` \(text"):
        table_from_csv(df, "label")
