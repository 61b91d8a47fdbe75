"""Mixed-type tables: TableSchema packing, TabularEncoder, and a DataFrame straight through
pretrain (SCARF, VIME, SimCLR), the linear probe, SSLEmbedding and the CLI."""
import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

import pyssl  # noqa: E402
from pyssl.tables import MISSING_CODE, UNKNOWN_CODE, TableSchema, TabularEncoder  # noqa: E402


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    age = rng.normal(40, 10, n) + 8 * y
    age[rng.random(n) < 0.2] = np.nan
    colour = np.where(y == 1, rng.choice(["red", "green"], n), rng.choice(["blue", "green"], n)).astype(object)
    colour[rng.random(n) < 0.1] = None
    return pd.DataFrame({
        "age": age,
        "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "colour": colour,
        "size": pd.Categorical(rng.choice(["S", "M", "L"], n)),
        "flag": rng.random(n) < 0.5,
    }), y


def test_schema_kinds_stats_and_packing():
    df, _ = _frame()
    s = TableSchema().fit(df)
    assert s.numeric_ == ["age", "count"] and s.categorical_ == ["colour", "size", "flag"]
    assert s.categories_[0] == ["blue", "green", "red"] and s.categories_[2] == ["False", "True"]
    P = s.transform(df)
    assert P.dtype == np.float32 and P.shape == (60, 2 * 2 + 3)
    age = df["age"].to_numpy()
    miss = np.isnan(age)
    np.testing.assert_array_equal(P[:, 2], miss)
    np.testing.assert_allclose(P[~miss, 0], (age[~miss] - np.nanmean(age)) / np.nanstd(age), rtol=1e-5)
    assert np.all(P[miss, 0] == 0)
    codes = P[:, 4].astype(int)
    assert np.all(codes[df["colour"].isna().to_numpy()] == MISSING_CODE)
    back = s.inverse_codes(P)
    ok = ~df["colour"].isna().to_numpy()
    assert list(back["colour"][ok]) == list(df["colour"][ok])
    assert list(back["flag"]) == [str(v) for v in df["flag"]]


def test_schema_unseen_category_all_missing_and_constant_columns():
    train = pd.DataFrame({"c": ["a", "b", "a", None], "empty": [np.nan] * 4, "const": [3.0] * 4,
                          "none": pd.Series([None] * 4, dtype=object)})
    s = TableSchema().fit(train)
    assert s.numeric_ == ["empty", "const"] and s.categorical_ == ["c", "none"]
    np.testing.assert_array_equal(s.mean_, [0.0, 3.0])
    np.testing.assert_array_equal(s.scale_, [1.0, 1.0])
    test = pd.DataFrame({"c": ["b", "zzz", None], "empty": [np.nan, 1.0, np.nan], "const": [3.0, 4.0, np.nan],
                         "none": ["x", None, None], "extra": [1, 2, 3]})
    P = s.transform(test)
    np.testing.assert_array_equal(P[:, 4], [3, UNKNOWN_CODE, MISSING_CODE])  # "b" is category 1 → code 3
    np.testing.assert_array_equal(P[:, 5], [UNKNOWN_CODE, MISSING_CODE, MISSING_CODE])
    np.testing.assert_array_equal(P[:, 2], [1, 0, 1])  # flags of "empty"
    np.testing.assert_allclose(P[:, 1], [0, 1, 0])  # const: (x − 3) / 1, 0 where missing
    assert s.cardinalities == [4, 2]


def test_schema_round_trips_through_json_and_min_frequency():
    df, _ = _frame()
    s = TableSchema(min_frequency=1).fit(df)
    s2 = TableSchema.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(s.transform(df), s2.transform(df))
    rare = pd.DataFrame({"c": ["a"] * 5 + ["b"]})
    s3 = TableSchema(min_frequency=2).fit(rare)
    assert s3.categories_ == [["a"]]
    np.testing.assert_array_equal(s3.transform(rare)[:, 0], [2] * 5 + [UNKNOWN_CODE])


def test_schema_forced_kinds():
    df = pd.DataFrame({"zip": [10, 20, 10, 30], "x": ["1.5", "2", None, "3"]})
    s = TableSchema(categorical=["zip"]).fit(df)
    assert s.categorical_ == ["zip", "x"] and s.numeric_ == []
    s = TableSchema(categorical=["zip"], numeric=["x"]).fit(df)
    assert s.numeric_ == ["x"]
    with pytest.raises(ValueError, match="both categorical and numeric"):
        TableSchema(categorical=["a"], numeric=["a"])
    with pytest.raises(ValueError, match="'nope'"):
        TableSchema(numeric=["nope"]).fit(df)


@pytest.mark.parametrize("col", [
    pd.Series(pd.date_range("2020-01-01", periods=3)),
    pd.Series(pd.to_timedelta([1, 2, 3], unit="D")),
    pd.Series([1 + 2j, 3j, 1]),
    pd.Series(pd.period_range("2020-01", periods=3, freq="M")),
])
def test_schema_refuses_unsupported_dtypes_naming_the_column(col):
    df = pd.DataFrame({"ok": [1.0, 2.0, 3.0], "when": col})
    with pytest.raises(TypeError, match="'when'"):
        TableSchema().fit(df)


def test_schema_errors():
    s = TableSchema().fit(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    with pytest.raises(ValueError, match=r"\['b'\]"):
        s.transform(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(TypeError, match="DataFrame"):
        s.transform(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        TableSchema().transform(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="infinite"):
        TableSchema().fit(pd.DataFrame({"a": [1.0, np.inf]}))
    with pytest.raises(TypeError, match="'a'.*not numbers"):
        TableSchema(numeric=["a"]).fit(pd.DataFrame({"a": ["x", "y"]}))


@pytest.mark.parametrize("method", ["scarf", "vime", "simclr"])
def test_dataframe_through_pretrain_and_probe(method):
    from pyssl.experiments import make_method

    df, y = _frame(80)
    enc = TabularEncoder(hidden=(32, 16), seed=0)
    m = make_method(method, enc)
    hist = pyssl.pretrain(m, df, epochs=3, batch_size=32, seed=0)
    assert np.all(np.isfinite(hist["loss"])) and enc.built
    Z = enc.transform(df)
    assert Z.shape == (80, 16) and np.all(np.isfinite(Z))
    probe = pyssl.transfer.LinearProbe(enc).fit(df, y)
    assert 0.0 <= probe.score(df, y) <= 1.0
    # the default SCARF view of a table encoder corrupts whole columns
    if method != "vime":
        assert m.views.table_layout is not None


def test_a_scarf_corruption_inside_composed_views_gets_the_table_layout():
    from pyssl.methods import SimCLR
    from pyssl.pretext import Compose, FeatureMask, RandomApply, ScarfCorruption

    df, _ = _frame(64)
    enc = TabularEncoder(hidden=(16, 8), seed=0)
    scarf = ScarfCorruption(0.5)
    m = SimCLR(enc, views=Compose([RandomApply(scarf, p=0.9), FeatureMask(0.1)]))
    assert scarf.table_layout is None
    hist = pyssl.pretrain(m, df, epochs=1, batch_size=32, seed=0)  # whole codes reach MixedInput
    assert np.all(np.isfinite(hist["loss"]))
    assert scarf.table_layout is not None
    np.testing.assert_array_equal(scarf.table_layout.group_cols, enc.schema.layout.group_cols)


def test_pretrain_on_frames_is_seeded_and_lowers_the_vime_loss():
    from pyssl.methods import VIME

    df, _ = _frame(120, seed=3)

    def run():
        enc = TabularEncoder(hidden=(32, 16), seed=0)
        return pyssl.pretrain(VIME(enc), df, epochs=12, batch_size=40, seed=1)["loss"], enc

    (l1, e1), (l2, e2) = run(), run()
    assert l1 == l2
    np.testing.assert_array_equal(e1.transform(df), e2.transform(df))
    assert l1[-1] < l1[0]


def test_vime_reconstruction_loss_matches_a_numpy_reference():
    from pyssl.tables import vime

    rng = np.random.default_rng(0)
    df, _ = _frame(30)
    s = TableSchema().fit(df)
    X = s.transform(df, dtype=np.float64)
    lay = s.layout
    feats = rng.standard_normal((30, 2 + sum(lay.cardinalities)))
    loss, grad = vime.reconstruction_loss(feats, X, lay)
    obs = 1 - X[:, 2:4]
    l_num = ((feats[:, :2] - X[:, :2]) ** 2 * obs).sum() / obs.sum()
    ces, off = [], 2
    for j, k in enumerate(lay.cardinalities):
        z = feats[:, off:off + k]
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        ces.append(np.mean(lse - z[np.arange(30), X[:, 4 + j].astype(int)]))
        off += k
    np.testing.assert_allclose(loss, (2 * l_num + sum(ces)) / 5, rtol=1e-10)
    from pyssl.testing import check_gradients

    check_gradients(lambda f: vime.reconstruction_loss(f, X, lay), [feats])


def test_tabular_encoder_gradients_fd():
    from pyssl.testing import numerical_gradient

    df, _ = _frame(12)
    enc = TabularEncoder(hidden=(5, 3), norm="layer", dtype=np.float64, seed=0).fit_schema(df)
    x = enc.encode(df)
    y, ctx = enc.forward(x)
    r = np.random.default_rng(0).standard_normal(y.shape)
    enc.zero_grad()
    enc.backward(r, ctx)
    for name, p in enc.named_parameters():
        num = numerical_gradient(lambda: float(np.sum(enc.forward(x)[0] * r)), p.data)
        np.testing.assert_allclose(p.grad, num, rtol=1e-5, atol=1e-7, err_msg=name)


def test_plain_encoder_refuses_mixed_frames_and_accepts_numeric_ones():
    from pyssl.methods import SCARF

    df, _ = _frame(40)
    with pytest.raises(TypeError, match="colour.*TabularEncoder"):
        pyssl.pretrain(SCARF(pyssl.nn.MLP([7, 8])), df, epochs=1)
    num = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) ** 0.5})
    hist = pyssl.pretrain(SCARF(pyssl.nn.MLP([2, 8])), num, epochs=1, batch_size=20)
    assert np.isfinite(hist["loss"][0])


def test_sslembedding_on_a_dataframe():
    sk = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from pyssl.sklearn import SSLEmbedding

    df, y = _frame(80)
    emb = SSLEmbedding(method="scarf", hidden=(16,), epochs=2, batch_size=32)
    Z = emb.fit(df).transform(df)
    assert Z.shape == (80, 16) and Z.dtype == np.float64
    assert list(emb.feature_names_in_) == list(df.columns)
    pipe = make_pipeline(SSLEmbedding(method="vime", hidden=(16,), epochs=2), LogisticRegression(max_iter=200))
    assert 0 <= pipe.fit(df, y).score(df, y) <= 1
    with pytest.raises(TypeError, match="DataFrame"):
        emb.transform(np.zeros((2, 5)))


def test_cli_pretrain_evaluate_embed_on_a_csv_with_text_and_missing(tmp_path, capsys):
    from pyssl.cli import main

    df, y = _frame(90, seed=2)
    df["label"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    enc_path = tmp_path / "enc.npz"
    assert main(["pretrain", str(path), "--label-column", "label", "--method", "scarf", "--epochs", "2",
                 "--hidden", "16,8", "--batch-size", "32", "--out", str(enc_path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "categorical column(s) embedded" in err and "colour (3 categories)" in err
    assert main(["evaluate", str(enc_path), str(path), "--label-column", "label", "--adapt", "probe"]) == 0
    assert "table (2 numeric, 3 categorical columns)" in capsys.readouterr().out
    out = tmp_path / "emb.npy"
    assert main(["embed", str(enc_path), str(path), "--label-column", "label", "--out", str(out)]) == 0
    Z = np.load(out)
    assert Z.shape == (90, 8)
    enc = pyssl.load_encoder(enc_path)
    back = pd.read_csv(path).drop(columns="label")
    np.testing.assert_allclose(enc.transform(back), Z, rtol=1e-5, atol=1e-6)
    # a file lacking a training column is refused by name
    df.drop(columns="colour").to_csv(tmp_path / "bad.csv", index=False)
    assert main(["embed", str(enc_path), str(tmp_path / "bad.csv"), "--label-column", "label",
                 "--out", str(out)]) == 2
    assert "colour" in capsys.readouterr().err


def test_load_csv_mixed_returns_a_frame(tmp_path):
    from pyssl.data import load_csv

    p = tmp_path / "m.csv"
    p.write_text("a,b,c\n1,x,2\nNA,y,3\n2,,4\n")
    with pytest.raises(ValueError, match="'a'"):
        load_csv(p)
    X, _ = load_csv(p, mixed=True)
    assert list(X.columns) == ["a", "b", "c"]
    assert np.isnan(X["a"][1]) and X["b"][2] is None and X["c"].dtype == np.float64
    Xn, _ = load_csv(p, drop_columns=["a", "b"], mixed=True)
    assert isinstance(Xn, np.ndarray)


def test_missing_pandas_gives_an_import_error_naming_the_extra(monkeypatch):
    import sys

    df = pd.DataFrame({"a": [1.0, 2.0]})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pyssl\[tables\]"):
        TableSchema().fit(df)


@pytest.mark.parametrize("nested", [False, True])
def test_scarf_view_on_a_table_moves_whole_columns_and_noises_values_only(nested):
    from pyssl.pretext import Compose, Identity, RandomApply, ScarfCorruption
    from pyssl.pretext.compose import _set_table_layout

    df, _ = _frame(50)
    s = TableSchema().fit(df)
    X = s.transform(df)
    view = ScarfCorruption(ratio=0.6, noise=0.5)
    views = Compose([RandomApply(view, p=1.0), Identity()]) if nested else view
    layout = s.layout
    _set_table_layout(views, layout)  # what Method.setup does for a table encoder
    assert view.table_layout is layout
    view.fit(X)
    out = views(X, seed=3)
    codes = out[:, 4:]
    assert np.all(codes == np.round(codes)) and np.all(codes >= 0)
    assert np.all(codes < np.array(s.cardinalities))
    assert set(np.unique(out[:, 2:4]).tolist()) <= {0.0, 1.0}  # flags stay 0/1
    assert np.all(out[:, :2][out[:, 2:4] > 0] == 0)  # missing numerics are not noised
    assert np.any(out[:, :2][out[:, 2:4] == 0] != X[:, :2][out[:, 2:4] == 0])


def test_scarf_noise_on_a_categorical_only_table_leaves_the_codes_whole():
    from pyssl.pretext import ScarfCorruption

    df = pd.DataFrame({"c": list("abcabcab"), "d": list("xxyyxxyz")})
    s = TableSchema().fit(df)
    X = s.transform(df)
    view = ScarfCorruption(0.5, noise=0.3)  # no numeric column to noise
    view.set_table_layout(s.layout)
    view.fit(X)
    out = view(X, seed=2)
    assert np.all(out == np.round(out)) and np.all(out < np.array(s.cardinalities))
    assert np.any(out != X)
