import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from pyssl.sklearn import SSLEmbedding  # noqa: E402


def _with_checks(estimators):
    """scikit-learn's parametrize_with_checks, its checks as a list (scikit-learn < 1.8 passes a
    generator, which pytest ≥ 9 refuses to parametrize with)."""
    mark = parametrize_with_checks(estimators)
    return pytest.mark.parametrize(mark.args[0], list(mark.args[1]), **mark.kwargs)


@_with_checks([SSLEmbedding(epochs=2, hidden=(8, 4), batch_size=16)])
def test_sklearn_conventions(estimator, check):
    check(estimator)


def test_pipeline_and_grid_search(rng):
    X = rng.standard_normal((80, 6))
    y = (X[:, 0] > 0).astype(int)
    pipe = make_pipeline(StandardScaler(), SSLEmbedding(epochs=2, hidden=(16, 8), batch_size=32),
                         LogisticRegression(max_iter=200))
    gs = GridSearchCV(pipe, {"sslembedding__method": ["simclr", "vicreg"]}, cv=2)
    gs.fit(X, y)
    assert gs.best_params_["sslembedding__method"] in ("simclr", "vicreg")
    emb = SSLEmbedding(epochs=2, hidden=(16, 8)).fit(X)
    assert emb.transform(X).shape == (80, 8)
    assert list(emb.get_feature_names_out())[:2] == ["sslembedding0", "sslembedding1"]
