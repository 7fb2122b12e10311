"""Tests for polycode_utils.networks.data (issue 7): offline natural-image patches and the CIFAR-10 loader."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from polycode_utils.networks.data import (
    PHOTOGRAPHS,
    cifar10,
    evaluation_images,
    load_images,
    load_photograph,
    natural_image_patches,
)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def find_crop(photo: np.ndarray, patch: np.ndarray) -> bool:
    """Whether patch (3, s, s) float in [0, 1] is an exact crop of photo (H, W, 3) uint8."""
    target = np.round(patch.transpose(1, 2, 0) * 255).astype(np.uint8)
    s = target.shape[0]
    ys, xs = np.nonzero(np.all(photo[: photo.shape[0] - s + 1, : photo.shape[1] - s + 1] == target[0, 0], axis=-1))
    return any(np.array_equal(photo[y:y + s, x:x + s], target) for y, x in zip(ys, xs))


def test_patches_work_with_the_network_off(no_network):
    data = natural_image_patches(64, seed=3)
    assert data.images.shape == (64, 3, 32, 32) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0 and data.images.std() > 0.05
    assert len(data) == 64 and data.description.n == 64 and data.description.dataset == "patches"
    assert len(data.description.sources) == len(PHOTOGRAPHS) == 8


def test_patches_are_seeded_and_described():
    a, b, c = (natural_image_patches(40, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.images, b.images) and a.description == b.description
    assert not np.array_equal(a.images, c.images) and a.description.digest != c.description.digest
    text = a.description.summary()
    assert "40 random 32x32" in text and "astronaut" in text and "2068 non-overlapping" in text
    assert "details" not in a.description.key() and a.description.key()["digest"] == a.description.digest


def test_unscaled_unflipped_patches_are_exact_crops_and_flips_mirror_them():
    photo = load_photograph("scikit-image", "chelsea")
    plain = natural_image_patches(6, size=16, seed=0, images=[("scikit-image", "chelsea")], scales=[1.0],
                                  flips=False)
    assert all(find_crop(photo, p) for p in plain.images)
    flipped = natural_image_patches(12, size=16, seed=0, images=[("scikit-image", "chelsea")], scales=[1.0])
    direct = [find_crop(photo, p) for p in flipped.images]
    mirrored = [find_crop(photo[:, ::-1], p) for p in flipped.images]
    assert all(d or m for d, m in zip(direct, mirrored)) and any(m and not d for d, m in zip(direct, mirrored))


def test_rescaled_patches_cover_a_larger_field_of_view():
    """A patch of a photo shrunk 4x spans 4x more of the scene: neighbouring pixels differ more."""
    kw = dict(n=200, seed=0, flips=False)
    full = natural_image_patches(scales=[1.0], **kw).images
    shrunk = natural_image_patches(scales=[4.0], **kw).images
    grad = lambda x: np.abs(np.diff(x, axis=-1)).mean()  # noqa: E731
    assert grad(shrunk) > 1.3 * grad(full)


@pytest.mark.parametrize("kw, name", [({"n": 0}, "n"), ({"n": 4, "size": 2}, "size"), ({"n": 4, "seed": -1}, "seed"),
                                      ({"n": 4, "scales": [0.5]}, "scales"),
                                      ({"n": 4, "images": [("scikit-image", "brain")]}, "images")])
def test_bad_patch_arguments_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        natural_image_patches(**kw)


def test_missing_cifar10_says_where_to_put_it_and_that_the_default_needs_none(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as err:
        cifar10(tmp_path / "nowhere", train=True)
    msg = str(err.value)
    assert str((tmp_path / "nowhere" / "cifar-10-batches-py").resolve()) in msg
    assert "data_batch_1" in msg and "dataset='patches' does not need it" in msg
    assert not (tmp_path / "nowhere").exists() or not any((tmp_path / "nowhere").iterdir())  # nothing downloaded
    with pytest.raises(FileNotFoundError, match="CIFAR-10"):
        load_images("cifar10", 100, root=tmp_path)


def test_unknown_dataset_fails_before_loading(monkeypatch):
    import polycode_utils.networks.data as data_mod

    monkeypatch.setattr(data_mod, "natural_image_patches", lambda *a, **k: pytest.fail("data were loaded"))
    with pytest.raises(ValueError, match="dataset: must be one of patches, cifar10"):
        load_images("imagenet", 10)


def test_evaluation_images_are_held_out() -> None:
    train = load_images("patches", 96, seed=0).images
    ev = evaluation_images("patches", 96, seed=0)
    assert ev.images.shape == train.shape and ev.description.seed == 1000
    assert not any(np.array_equal(e, t) for e in ev.images[:20] for t in train)
    assert np.array_equal(ev.images, evaluation_images("patches", 96, seed=0).images)
    with pytest.raises(ValueError, match="dataset"):
        evaluation_images("imagenet", 10)
    with pytest.raises(ValueError, match="root"):
        evaluation_images("cifar10", 10)  # CIFAR-10 needs its folder: no default that points anywhere


def test_corrupt_cifar10_is_reported_as_corrupt_not_missing(tmp_path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (folder / name).write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        cifar10(tmp_path, train=True, n=10)
