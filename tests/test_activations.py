"""Tests for polycode_utils.networks.activations (issue 7): recording hidden activations by depth with forward hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from polycode_utils.networks.activations import record_activations, stream_covariances
from polycode_utils.networks.models import ResNetAutoencoder, n_features


@pytest.fixture
def model() -> ResNetAutoencoder:
    torch.manual_seed(0)
    m = ResNetAutoencoder(dropout=0.5, width=4, latent_dim=8)
    with torch.no_grad():  # a few training-mode passes so BatchNorm's running statistics are not trivial
        for _ in range(3):
            m(torch.rand(16, 3, 32, 32))
    return m.train()


def inputs(n: int = 10) -> np.ndarray:
    return np.random.default_rng(0).random((n, 3, 32, 32), dtype=np.float32)


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_shapes_are_what_depth_layers_promise_and_nothing_is_left_behind(model):
    x = inputs()
    acts = record_activations(model, x, batch_size=4)
    assert list(acts) == list(model.depth_layers())
    for name, shape in model.depth_shapes().items():
        assert acts[name].shape == (10, n_features(shape)) and acts[name].dtype == np.float32
    assert no_hooks(model) and model.training  # hooks removed, training mode restored


def test_values_are_the_eval_mode_layer_outputs_flattened_channel_first(model):
    x = torch.as_tensor(inputs())
    acts = record_activations(model, x, layers=["layer2", "mu"], batch_size=3)
    assert list(acts) == ["layer2", "mu"]
    model.eval()
    with torch.no_grad():
        h = model.layer2(model.layer1(model.stem(x)))
        mu, _ = model.encode(x)
    np.testing.assert_allclose(acts["layer2"], h.reshape(10, -1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["mu"], mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["layer2"][3].reshape(8, 16, 16), h[3].numpy(), rtol=1e-5, atol=1e-6)


def test_batch_size_does_not_change_the_result(model):
    a = record_activations(model, inputs(), layers=["stem", "fc2"], batch_size=1)
    b = record_activations(model, inputs(), layers=["stem", "fc2"], batch_size=64)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_hooks_are_removed_when_the_forward_pass_raises(model):
    bad = np.zeros((4, 2, 32, 32), dtype=np.float32)  # two channels: the stem's convolution raises
    with pytest.raises(RuntimeError):
        record_activations(model, bad)
    assert no_hooks(model) and model.training

    def explode(module, args, output):
        raise ArithmeticError("boom")

    model.layer3.register_forward_hook(explode)  # a failure in the middle of the recorded layers
    with pytest.raises(ArithmeticError):
        stream_covariances(model, inputs(), batch_size=4)
    hooks = [m._forward_hooks for m in model.modules() if m._forward_hooks]
    assert len(hooks) == 1 and len(hooks[0]) == 1  # only the test's own hook remains


def test_bad_arguments_name_the_parameter(model):
    with pytest.raises(ValueError, match="layers: unknown layer 'layer9'; allowed: input, stem, layer1"):
        record_activations(model, inputs(), layers=["layer9"])
    with pytest.raises(ValueError, match="batch_size"):
        record_activations(model, inputs(), batch_size=0)
    assert no_hooks(model)


def test_streaming_covariances_match_the_recorded_activations(model):
    x = inputs(24)
    acts = record_activations(model, x, layers=["layer4", "pooled", "fc1"])
    streamed = stream_covariances(model, x, layers=["layer4", "pooled", "fc1"], batch_size=5)
    from_batches = stream_covariances(model, (x[i:i + 7] for i in range(0, 24, 7)), layers=["pooled"])
    assert no_hooks(model)
    for name, acc in streamed.items():
        assert acc.n == 24 and acc.dim == acts[name].shape[1]
        np.testing.assert_allclose(acc.covariance(), np.cov(acts[name].astype(np.float64), rowvar=False),
                                   rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(from_batches["pooled"].covariance(), streamed["pooled"].covariance(), rtol=1e-9)
