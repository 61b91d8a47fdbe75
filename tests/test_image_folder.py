"""pyssl.data.load_image_folder: one sub-folder per class (or a flat folder), Pillow decoding."""
import builtins

import numpy as np
import pytest

from pyssl.data import load_image_folder

Image = pytest.importorskip("PIL.Image")


def make_folder(root, classes=("cat", "dog"), per_class=3, size=(6, 5), mode="RGB", seed=0):
    """Write random PNGs (lossless); returns the pixel arrays by path."""
    g = np.random.default_rng(seed)
    pixels = {}
    for c in classes:
        d = root / c if c else root
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size[0], size[1], 3) if mode == "RGB" else size
            a = g.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(a, mode).save(d / f"img{i}.png")
            pixels[d / f"img{i}.png"] = a
    return pixels


def test_classes_labels_and_pixel_values(tmp_path):
    pixels = make_folder(tmp_path, per_class=3, size=(6, 5))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")  # skipped: not an image extension
    (tmp_path / ".hidden").mkdir()  # skipped: hidden
    X, y, classes = load_image_folder(tmp_path)
    assert classes == ["cat", "dog"]
    assert X.shape == (6, 3, 6, 5) and X.dtype == np.float32
    assert y.tolist() == [0, 0, 0, 1, 1, 1]
    expected = pixels[tmp_path / "dog" / "img1.png"].transpose(2, 0, 1) / 255.0
    np.testing.assert_allclose(X[4], expected, rtol=0, atol=1e-7)


def test_grayscale_and_resize(tmp_path):
    make_folder(tmp_path, size=(8, 8))
    X, y, _ = load_image_folder(tmp_path, size=4, mode="L")
    assert X.shape == (6, 1, 4, 4)
    assert 0.0 <= X.min() and X.max() <= 1.0
    X2, _, _ = load_image_folder(tmp_path, size=(3, 5))
    assert X2.shape == (6, 3, 3, 5)


def test_flat_folder_is_unlabeled(tmp_path):
    make_folder(tmp_path, classes=("",), per_class=4)
    X, y, classes = load_image_folder(tmp_path)
    assert X.shape[0] == 4 and y is None and classes == []


def test_mixed_sizes_need_size(tmp_path):
    make_folder(tmp_path / "a", classes=("x",), size=(4, 4))
    make_folder(tmp_path / "a", classes=("y",), size=(5, 4))
    with pytest.raises(ValueError, match=r"is 5×4 but .* is 4×4; pass size="):
        load_image_folder(tmp_path / "a")
    assert load_image_folder(tmp_path / "a", size=4)[0].shape == (6, 3, 4, 4)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no images in"):
        load_image_folder(tmp_path)
    make_folder(tmp_path, classes=("a",))
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="class folder '.*/b' has no images"):
        load_image_folder(tmp_path)
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="mode must be one of"):
        load_image_folder(tmp_path, mode="CMYK")
    with pytest.raises(ValueError, match="size must be a positive int"):
        load_image_folder(tmp_path, size=(0, 3))


def _hide_package(monkeypatch, package):
    """Make ``import package`` (and its submodules) fail as if it were not installed."""
    real_import = builtins.__import__

    def blocked(name, *args, **kw):
        if name == package or name.startswith(package + "."):
            raise ImportError(f"No module named '{package}'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", blocked)


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    make_folder(tmp_path, classes=("a",))
    _hide_package(monkeypatch, "PIL")
    with pytest.raises(ImportError, match=r"needs Pillow: pip install 'pyssl\[images\]' \(or pip install Pillow\)"):
        load_image_folder(tmp_path)


def test_missing_scikit_learn_hint_names_the_real_package(monkeypatch):
    from pyssl import data

    _hide_package(monkeypatch, "sklearn")
    with pytest.raises(ImportError, match=r"pip install scikit-learn\)") as info:
        data.load_wine()
    assert "pip install sklearn" not in str(info.value)
