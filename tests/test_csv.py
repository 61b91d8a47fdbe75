"""CSV reading with a real CSV parser: quoted fields, detected or given delimiters, text labels,
and errors that name the offending column and line."""
import csv

import numpy as np
import pytest
from hypothesis import given, strategies as st

from pyssl.data import load_array, load_csv


def write(path, rows, delimiter=",", quoting=csv.QUOTE_MINIMAL):
    with open(path, "w", newline="") as f:
        csv.writer(f, delimiter=delimiter, quoting=quoting).writerows(rows)
    return path


def test_quoted_header_with_comma_keeps_columns_aligned(tmp_path):
    # pandas writes a header field containing the delimiter in quotes
    rows = [["alcohol", "hue, corrected", "proline", "colour"]] + [[i, 10 * i, 100 + i, -i] for i in range(6)]
    path = write(tmp_path / "wine.csv", rows)
    X, y, names = load_csv(path, "proline", return_columns=True)
    assert names == ["alcohol", "hue, corrected", "colour"]
    np.testing.assert_array_equal(y, 100 + np.arange(6))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, np.c_[np.arange(6), 10 * np.arange(6), -np.arange(6)].astype(np.float32))
    Xa, ya = load_array(path, "proline")  # the generic loader reads CSV the same way
    np.testing.assert_array_equal(Xa, X)
    np.testing.assert_array_equal(ya, y)


def test_semicolon_delimiter_and_decimal_comma_are_detected(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("a;b;klasse\n1,5;2;x\n-0,25;3;y\n4;5,75;x\n")
    X, y = load_csv(path, "klasse")
    np.testing.assert_array_equal(X, np.array([[1.5, 2], [-0.25, 3], [4, 5.75]], np.float32))
    assert y.tolist() == ["x", "y", "x"]


def test_explicit_delimiter(tmp_path):
    path = tmp_path / "pipe.csv"
    path.write_text("a|b\n1|2\n3|4\n")
    X, _ = load_csv(path, delimiter="|")
    assert X.shape == (2, 2)
    with pytest.raises(ValueError, match=r"'a\|b' \(text on line 2: '1\|2'\)"):
        load_csv(path, delimiter=",")  # one text column with the wrong delimiter
    with pytest.raises(ValueError, match="delimiter must be one character"):
        load_csv(path, delimiter=";;")


def test_text_labels_stay_labels(tmp_path):
    rows = [["species", "x1", "x2"]] + [[" setosa " if i % 2 else "virginica", i, i * 0.5] for i in range(6)]
    X, y = load_csv(write(tmp_path / "iris.csv", rows), "species")
    assert X.shape == (6, 2)
    assert sorted(set(y.tolist())) == ["setosa", "virginica"]


def test_fractional_labels_are_float(tmp_path):
    rows = [["x", "t"]] + [[i, i / 4] for i in range(5)]
    _, y = load_csv(write(tmp_path / "r.csv", rows), "t")
    assert y.dtype == np.float64 and y[1] == 0.25


def test_error_names_the_bad_column_even_after_the_label(tmp_path):
    rows = [["label", "a", "colour", "b"]] + [[i % 2, i, "red", i] for i in range(4)]
    path = write(tmp_path / "t.csv", rows)
    with pytest.raises(ValueError, match=r"'colour' \(text on line 2: 'red'\)") as info:
        load_csv(path, "label")
    assert "'label'" not in str(info.value).split(";")[1]
    X, _ = load_csv(path, "label", drop_columns=["colour"])
    assert X.shape == (4, 2)
    X, _ = load_csv(path, 0, drop_columns=[2])  # by index
    assert X.shape == (4, 2)


def test_missing_values_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("a,b,y\n1,2,0\n3,,1\n5,6,0\n")
    with pytest.raises(ValueError, match=r"'b' \(missing value on line 3"):
        load_csv(path, "y")
    path.write_text("a,b,y\n1,2,0\n3,4,\n")
    with pytest.raises(ValueError, match="label column 'y' is empty or missing on line"):
        load_csv(path, "y")


def test_ragged_rows_and_empty_files(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="line 3 has 2 fields, the header has 3"):
        load_csv(path, delimiter=",")
    path.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_csv(path)
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_csv(path)


def test_label_column_lookup(tmp_path):
    path = write(tmp_path / "n.csv", [["a", "b"], [1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"label column 'nope' not found; columns are \['a', 'b'\]"):
        load_csv(path, "nope")
    with pytest.raises(ValueError, match="out of range"):
        load_csv(path, 5)
    _, y = load_csv(path, -1)
    assert y.tolist() == [2, 4]
    with pytest.raises(ValueError, match="both the label column and a column to drop"):
        load_csv(path, "a", drop_columns=["a"])


def test_headerless_numeric_file(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("1,2,0\n3,4,1\n")
    X, y = load_csv(path, 2)
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert y.tolist() == [0, 1]


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8).filter(
    lambda s: s.strip() and s.strip().lower() not in ("nan", "inf", "-inf", "infinity", "na", "n/a", "null", "none", "?")
    and not _is_float(s) and not _is_float(s.replace(",", ".")))


def _is_float(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


@given(n=st.integers(2, 6), d=st.integers(1, 5), delimiter=st.sampled_from([",", ";", "\t"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
       header=st.lists(names, min_size=6, max_size=6, unique_by=str.strip), data=st.data())
def test_round_trip_of_any_numeric_table(tmp_path_factory, n, d, delimiter, quoting, header, data):
    """Whatever the header text (quotes, delimiters inside names), the quoting and the delimiter,
    the values and labels come back exactly, each in its column."""
    values = np.array(data.draw(st.lists(st.floats(-1e6, 1e6, width=32), min_size=n * d, max_size=n * d)),
                      dtype=np.float32).reshape(n, d)
    labels = np.arange(n) % 3
    label_at = data.draw(st.integers(0, d))
    cols = header[:d + 1]
    rows = [cols] + [list(map(float, values[i, :label_at])) + [int(labels[i])] + list(map(float, values[i, label_at:]))
                     for i in range(n)]
    path = write(tmp_path_factory.mktemp("rt") / "t.csv", rows, delimiter=delimiter, quoting=quoting)
    X, y, got = load_csv(path, cols[label_at].strip(), return_columns=True)
    np.testing.assert_array_equal(X, values)
    np.testing.assert_array_equal(y, labels)
    assert got == [c.strip() for i, c in enumerate(cols) if i != label_at]


def test_label_column_as_the_only_column_is_a_clear_error(tmp_path):
    from pyssl.data import load_array

    path = tmp_path / "one.csv"
    path.write_text("a\n0.5\n")
    with pytest.raises(ValueError, match="no feature columns left"):
        load_array(str(path), label_column=0)
