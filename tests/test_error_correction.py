"""Tests of polycode_utils.networks.error_correction: the authors' network, its initialisation, training and
measurement."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from polycode_utils.networks.error_correction import (CONTROL_NETWORKS, PassThroughConfig, activation_spread,
                                                      control_effect, control_study, demonstration_summary,
                                                      dropout_layer_capacity, information_by_layer, with_mask_rate,
                                                      init_comparison, layer_activations, measured_layers,
                                                      reconstruction_mse, train_pass_through, uniform_decoder_floor,
                                                      uniform_inputs)

TINY = PassThroughConfig(depth=8, n_samples=1000, epochs=2, seed=3)


def test_the_authors_architecture() -> None:
    config = PassThroughConfig()
    model = config.build_model()
    assert (config.steps, model.depth) == (40_000, 40)  # 1M samples x 4 epochs in batches of 100
    assert [layer.out_features for layer in model.dense] == [32] * 40 and model.readout.out_features == 3
    assert measured_layers(config) == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 41]


def test_keras_initialisation() -> None:
    model = PassThroughConfig().build_model()
    for layer in [*model.dense, model.readout]:
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))  # Glorot-uniform
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert torch.all(layer.bias == 0)


def manual_forward(model, x: torch.Tensor, masks: list[torch.Tensor] | None, p: float) -> torch.Tensor:
    h, used = x, 0
    for number, layer in enumerate(model.dense, 1):
        h = torch.tanh(h @ layer.weight.T + layer.bias)
        if number % 4 == 0:
            h = h * (masks[used] if masks is not None else 1 - p)
            used += 1
    return h @ model.readout.weight.T + model.readout.bias


@torch.no_grad()
def test_dropout_is_a_plain_mask_after_every_fourth_layer() -> None:
    config = replace(TINY, dropout=0.5)
    model, x = config.build_model(), uniform_inputs(64, 3, 0)
    g = torch.Generator().manual_seed(9)
    out, rec = model(x, dropout_on=True, generator=g, record=[4, 8, 9])
    g = torch.Generator().manual_seed(9)
    masks = [(torch.rand(64, 32, generator=g) >= 0.5) for _ in range(2)]  # kept units are NOT divided by 1 - p
    torch.testing.assert_close(out, manual_forward(model, x, masks, 0.5))
    assert torch.all(rec[4] != 0) and torch.all(rec[8] != 0)             # recorded before their masks
    assert 0.4 < float(masks[0].float().mean()) < 0.6 and sorted(rec) == [4, 8, 9]
    off, _ = model(x, dropout_on=False)                                   # Keras' inference: scaled by 1 - p
    torch.testing.assert_close(off, manual_forward(model, x, None, 0.5))


def test_pytorch_default_init_forgets_the_input_before_training() -> None:
    """Spread over inputs after 40 layers: a factor about 1/sqrt(3) per layer with PyTorch's default (down to float32's
    resolution), slowly with Keras' (tanh's curvature and the 1 - p scalings: about 1 % of the input's spread left)."""
    x = uniform_inputs(2000, 3, 1)
    keras, torch_default = (activation_spread(PassThroughConfig(init=i).build_model(), x, [1, 40])
                            for i in ("keras", "torch"))
    assert keras[1] > 1e-3
    assert torch_default[1] < 1e-6 < torch_default[0]


def test_only_the_keras_initialisation_trains(tmp_path) -> None:
    runs = init_comparison(PassThroughConfig(seed=1), 300, cache_dir=tmp_path, progress=False)
    keras, default = (runs[i].step_loss[-100:].mean() for i in ("keras", "torch"))
    assert default == pytest.approx(1 / 3, abs=0.02)  # the MSE of predicting 0 for U[-1, 1]^3
    assert keras < 0.25


def test_training_is_seeded_cached_and_leaves_the_callers_rng_alone(tmp_path) -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = train_pass_through(TINY, cache_dir=tmp_path, progress=False)
    assert torch.rand(1) == before
    again = train_pass_through(TINY, progress=False)
    cached = train_pass_through(TINY, cache_dir=tmp_path, progress=False)
    assert not first.from_cache and cached.from_cache and cached.path == first.path
    assert len(first.step_loss) == TINY.steps == 20
    np.testing.assert_array_equal(first.step_loss, again.step_loss)
    np.testing.assert_array_equal(first.step_loss, cached.step_loss)
    for a, b in zip(again.model.parameters(), cached.model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [p.name for p in first.path.parent.iterdir()] == ["network.pt"]  # no temporary file left
    assert train_pass_through(replace(TINY, seed=4), cache_dir=tmp_path, progress=False).path != first.path


def test_a_damaged_record_is_set_aside_and_the_network_trained_again(tmp_path) -> None:
    first = train_pass_through(TINY, cache_dir=tmp_path, progress=False)
    record = torch.load(first.path, weights_only=True)
    record["model"]["readout.bias"] += 1.0  # a flipped bit: the checksum no longer matches
    torch.save(record, first.path)
    with pytest.warns(UserWarning, match="checksum"):
        again = train_pass_through(TINY, cache_dir=tmp_path, progress=False)
    assert not again.from_cache and (first.path.parent / "network.pt.unreadable").exists()
    np.testing.assert_array_equal(again.step_loss, first.step_loss)
    first.path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        assert not train_pass_through(TINY, cache_dir=tmp_path, progress=False).from_cache
    assert train_pass_through(TINY, cache_dir=tmp_path, progress=False).from_cache


def test_training_lowers_the_loss_of_the_untrained_network() -> None:
    config = replace(TINY, n_samples=20_000, epochs=1)
    trained = train_pass_through(config, progress=False)
    x = uniform_inputs(2000, 3, 5)
    before = reconstruction_mse(config.build_model(), x, seed=0, dropout_on=True)
    after = reconstruction_mse(trained.model, x, seed=0, dropout_on=True)
    assert after < 0.5 * before


def test_layer_activations_are_seeded_and_shaped() -> None:
    model, x = TINY.build_model(), uniform_inputs(100, 3, 0)
    a, b = (layer_activations(model, x, [4, 9], seed=2) for _ in range(2))
    assert a[4].shape == (100, 32) and a[9].shape == (100, 3)
    np.testing.assert_array_equal(a[9], b[9])
    with pytest.raises(ValueError, match="layers"):
        layer_activations(model, x, [10], seed=0)


def test_information_by_layer_separates_a_blind_network() -> None:
    """A network with zeroed weights knows nothing of its input: its decoder bound sits at the floor."""
    seeing = TINY.build_model()
    blind = TINY.build_model()
    with torch.no_grad():
        for layer in blind.dense:
            layer.weight.zero_()
    table = information_by_layer({"learnt": seeing, "untrained": blind}, [4, 9], n_samples=4000, seed=0,
                                 estimators=["decoder"], decoder_options=dict(steps=400), progress=False)
    assert list(table.columns) == ["network", "layer", "estimator", "nats", "stderr", "n_train", "n_test"]
    assert len(table) == 4 and set(table.n_test) == {800}
    blind_nats = table[table.network == "untrained"].nats
    np.testing.assert_allclose(blind_nats, uniform_decoder_floor(3), atol=0.06)
    assert table.query("network == 'learnt' and layer == 4").nats.item() > 3.0


def test_demonstration_summary() -> None:
    rows = [dict(network=n, layer=layer, estimator=e, nats=v, stderr=0.1)
            for e, shift in (("decoder", 0.0), ("mine", 0.5))
            for n, values in (("learnt", [6.0, 3.0, 2.5]), ("untrained", [7.0, 1.0, -0.4]))
            for layer, v in zip([4, 8, 9], np.array(values) + shift * (n == "learnt"))]
    s = demonstration_summary(pd.DataFrame(rows))
    assert (s.first_layer, s.second_layer, s.last_layer, s.learnt_first, s.untrained_last) == (4, 8, 9, 6.0, -0.4)
    assert (s.learnt_drop, s.untrained_drop) == pytest.approx((0.5, 1.4))
    assert s.gap_last == pytest.approx(2.9) and s.mine_gap_last == pytest.approx(3.4)
    assert (s.mine_learnt_first, s.mine_untrained_first) == (6.5, 7.0)
    only_decoder = demonstration_summary(pd.DataFrame(rows).query("estimator == 'decoder'"))
    assert math.isnan(only_decoder.mine_gap_last) and only_decoder.gap_last == pytest.approx(2.9)


def test_bad_configurations() -> None:
    with pytest.raises(ValueError, match="init"):
        PassThroughConfig(init="he")
    with pytest.raises(ValueError, match="dropout"):
        PassThroughConfig(dropout=1.0)
    with pytest.raises(ValueError, match="dropout_every"):
        PassThroughConfig(depth=3, dropout_every=4)
    with pytest.raises(ValueError, match="config"):
        train_pass_through(dict(depth=3))


def test_dropout_layer_capacity_is_chapter_twos_upper_bound() -> None:
    assert dropout_layer_capacity(PassThroughConfig(), 1.0) == pytest.approx(0.8 * 32 * math.log(2))  # 17.7 nats
    assert dropout_layer_capacity(PassThroughConfig(dropout=0.5), 2.0) == pytest.approx(32 * math.log(2))


def test_a_twin_with_another_mask_rate_keeps_the_weights_and_changes_only_the_masks() -> None:
    model = PassThroughConfig(depth=8, dropout=0.0, seed=3).build_model()
    twin = with_mask_rate(model, 0.5)
    x = uniform_inputs(200, 3, 0)
    assert twin.dropout == 0.5 and all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                                            twin.state_dict().values()))
    same = with_mask_rate(model, 0.0)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(model(x, dropout_on=True, generator=g1)[0], same(x, dropout_on=True, generator=g2)[0])
    # masks off: the masked layers scaled by 1 - p, as Keras' inference, so the twin's output differs
    assert not torch.allclose(twin(x, dropout_on=False)[0], model(x, dropout_on=False)[0])


def test_control_effect_is_the_paired_difference_over_seeds() -> None:
    """Known answer: per-seed differences 1, 2, 3 -> mean 2, Student-t interval 2 +- 4.303 x 1/sqrt(3)."""
    rows = [dict(seed=s, network=n, masks="on", nats=v, stderr=0.0)
            for s, (a, b, c) in enumerate([(3.0, 2.0, 0.1), (4.0, 2.0, 0.2), (5.0, 2.0, 0.3)])
            for n, v in zip(CONTROL_NETWORKS, (a, b, c))]
    e = control_effect(pd.DataFrame(rows), "dropout", "no dropout", "on")
    half = 4.302652729911275 / math.sqrt(3)
    assert (e.mean, e.n) == (2.0, 3) and e.low == pytest.approx(2 - half) and e.high == pytest.approx(2 + half)
    with pytest.raises(ValueError, match="^network, control"):
        control_effect(pd.DataFrame(rows), "dropout", "no dropout", "off")
    with pytest.raises(ValueError, match="^masks"):
        control_effect(pd.DataFrame(rows), "dropout", "no dropout", "sometimes")


def test_control_study_pairs_each_seed_with_its_twins(tmp_path) -> None:
    table = control_study(replace(TINY, epochs=1), [0, 1], n_samples=2000, decoder_options=dict(steps=100),
                          cache_dir=tmp_path, progress=False)
    assert len(table) == 2 * (3 + 2) and set(table.masks) == {"on", "off"}
    assert table[table.masks == "off"].network.tolist() == ["dropout", "no dropout"] * 2
    assert len(list(tmp_path.glob("pass_through-*"))) == 4  # two seeds x (p = 0.2, p = 0), trained once each
    with pytest.raises(ValueError, match="^config"):
        control_study(replace(TINY, dropout=0.0), [0], n_samples=100)
