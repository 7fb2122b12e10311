"""Tests for polycode_utils.networks.training (issue 7): config validation, learning, determinism, resume, atomic
cache."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from processes import gone_within, running

import polycode_utils.runtime.checkpoints as checkpoints
import polycode_utils.networks.grid as grid
import polycode_utils.networks.training as training
import polycode_utils.runtime.workers as workers
from polycode_utils.networks.data import natural_image_patches
from polycode_utils.networks.evaluation import (bce_floor, evaluate, excess_share, pca_reconstruction,
                                                recalibrate_batchnorm, mean_colour_loss, reconstruction_losses,
                                                vae_loss)
from polycode_utils.networks.grid import dropout_grid, load_networks
from polycode_utils.reports import ch04_autoencoder as ch04
from polycode_utils.networks.training import (AutoencoderConfig, cache_folder, load_or_train, load_training_data,
                                     train_autoencoder, train_many)
from polycode_utils.runtime.workers import resolve_device

TINY = dict(width=4, latent_dim=8, batch_size=32, n_images=64, epochs=1)


@pytest.fixture(scope="module")
def patches64():
    return natural_image_patches(64, seed=0)


@pytest.fixture(scope="module")
def patches256():
    return natural_image_patches(256, seed=0)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("field, value, allowed", [
    ("dropout", 1.0, "[0, 1)"), ("dropout", -0.2, "[0, 1)"), ("dropout", "0.2", "[0, 1)"),
    ("dataset", "imagenet", "patches, cifar10"), ("width", 0, ">= 1"), ("latent_dim", -1, ">= 1"),
    ("epochs", 0, ">= 1"), ("batch_size", 1, ">= 2"), ("n_images", 0, ">= 2"), ("lr", 0.0, "> 0"),
    ("lr", float("nan"), "> 0"), ("seed", -1, ">= 0"), ("fc_hidden", 0, ">= 1"), ("image_size", 30, "multiple of 8"),
    ("width", 2.5, "integer"), ("schedule", "linear", "constant, cosine"), ("warmup", 0.6, "0.5"),
    ("placement", "everywhere", "every_relu, branch"),
])
def test_bad_config_names_the_field_and_the_allowed_values(field, value, allowed):
    with pytest.raises(ValueError) as err:
        AutoencoderConfig(**{field: value})
    assert str(err.value).startswith(f"{field}: must be") and allowed in str(err.value)


def test_cifar10_config_checks_its_size_before_any_data_loads():
    with pytest.raises(ValueError, match="n_images: .*<= 50000"):
        AutoencoderConfig(dataset="cifar10", n_images=60_000)


def test_config_hash_is_stable_and_covers_every_field():
    base = AutoencoderConfig(**TINY)
    assert base.key() == AutoencoderConfig(**TINY).key()
    assert AutoencoderConfig(dropout=0).key() == AutoencoderConfig(dropout=0.0).key()
    changed = dict(dropout=0.2, width=5, latent_dim=9, fc_hidden=7, variational=False, epochs=2, batch_size=16,
                   lr=2e-3, seed=1, dataset="cifar10", n_images=65, replicate=1, schedule="cosine", warmup=0.1,
                   placement="branch")
    assert set(changed) | {"image_size"} == {f.name for f in dataclasses.fields(AutoencoderConfig)}
    keys = {dataclasses.replace(base, **{k: v}).key() for k, v in changed.items()}
    assert len(keys) == len(changed) and base.key() not in keys
    assert base.with_dropout(0.4) == dataclasses.replace(base, dropout=0.4)


def test_device_is_validated():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device: must be one of cpu, cuda, auto"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="device: 'cuda'"):
            resolve_device("cuda")


def test_data_that_do_not_match_the_config_are_refused(patches64):
    with pytest.raises(ValueError, match="data: "):
        train_autoencoder(AutoencoderConfig(**{**TINY, "n_images": 100}), patches64, device="cpu", progress=False)


# ---------------------------------------------------------------- learning and determinism


def test_fifty_steps_on_256_patches_cut_the_excess_reconstruction_loss_by_a_fifth(patches256):
    """BCE has a floor (the targets' own entropy, not 0): 50 Adam steps must remove >= 20% of the excess over it."""
    floor = bce_floor(patches256.images)
    config = AutoencoderConfig(width=4, latent_dim=16, batch_size=51, n_images=256, epochs=10)  # 5 batches/epoch
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        before = evaluate(config.build_model(), patches256.images)
    trained = train_autoencoder(config, patches256, device="cpu", progress=False)
    after = evaluate(trained.model, patches256.images)
    assert len(trained.history.step_loss) == 50
    assert after.bce - floor <= 0.8 * (before.bce - floor)  # observed: about 0.66
    assert after.total <= 0.95 * before.total and after.mse < before.mse
    steps = trained.history.step_loss
    assert np.mean(steps[-5:]) < np.mean(steps[:5])


def test_same_seed_same_weights_other_seed_other_weights(patches64):
    config = AutoencoderConfig(dropout=0.3, **TINY)
    a = train_autoencoder(config, patches64, device="cpu", progress=False)
    b = train_autoencoder(config, patches64, device="cpu", progress=False)
    c = train_autoencoder(dataclasses.replace(config, seed=1), patches64, device="cpu", progress=False)
    assert same_weights(weights(a.model), weights(b.model))
    assert a.history.step_loss == b.history.step_loss
    assert not same_weights(weights(a.model), weights(c.model))


def test_training_leaves_the_callers_random_state_alone(patches64):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_autoencoder(AutoencoderConfig(dropout=0.3, **TINY), patches64, device="cpu", progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_resume_after_interrupt_equals_an_uninterrupted_run(tmp_path, patches64):
    config = AutoencoderConfig(dropout=0.3, **{**TINY, "epochs": 2})
    whole = train_autoencoder(config, patches64, cache_dir=tmp_path / "a", device="cpu", progress=False)

    def interrupt(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_autoencoder(config, patches64, cache_dir=tmp_path / "b", device="cpu", progress=False,
                          callback=interrupt)
    partial = torch.load(cache_folder(config, patches64, tmp_path / "b") / "checkpoint.pt", weights_only=True)
    assert partial["epoch"] == 1
    resumed = load_or_train(config, patches64, cache_dir=tmp_path / "b", device="cpu", progress=False)
    assert resumed.epochs_trained_now == 1 and not resumed.from_cache
    assert same_weights(weights(whole.model), weights(resumed.model))
    assert whole.history.step_loss == resumed.history.step_loss
    assert whole.history.eval_loss == resumed.history.eval_loss


def test_a_complete_checkpoint_is_loaded_not_retrained(tmp_path, patches64):
    config = AutoencoderConfig(**TINY)
    first = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    again = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    assert first.epochs_trained_now == 1 and again.from_cache and not again.model.training
    assert same_weights(weights(first.model), weights(again.model))
    assert again.history.eval_loss == first.history.eval_loss and again.seconds == pytest.approx(first.seconds)
    other_data = natural_image_patches(64, seed=1)  # same config, other data: another cache entry
    assert cache_folder(config, other_data, tmp_path) != cache_folder(config, patches64, tmp_path)
    assert (cache_folder(config, patches64, tmp_path) / "config.json").exists()


# ---------------------------------------------------------------- atomic checkpoints


def test_a_failed_checkpoint_write_leaves_the_previous_checkpoint_loadable(tmp_path, patches64, monkeypatch):
    config = AutoencoderConfig(**{**TINY, "epochs": 2})
    path = cache_folder(config, patches64, tmp_path) / "checkpoint.pt"
    real_save = torch.save
    calls = []

    def failing_save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second epoch's checkpoint: write half a file, then the disk is "full"
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(training.torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        train_autoencoder(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    monkeypatch.setattr(training.torch, "save", real_save)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["epoch"] == 1 and len(ckpt["history"]["epoch_loss"]) == 1
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    done = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    assert done.epochs_trained_now == 1 and len(done.history.epoch_loss) == 2


def test_an_unreadable_checkpoint_is_set_aside_with_a_warning(tmp_path, patches64):
    config = AutoencoderConfig(**TINY)
    folder = cache_folder(config, patches64, tmp_path)
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="set aside .*unreadable"):
        trained = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    assert trained.epochs_trained_now == 1 and (folder / "checkpoint.pt.unreadable").exists()


def _flip_a_bit(ckpt: dict) -> None:
    w = next(v for v in ckpt["model"].values() if v.is_floating_point() and v.numel() > 1)
    w.view(torch.int32)[(0,) * w.dim()] ^= 1 << 20


def _nan(ckpt: dict) -> None:
    next(v for v in ckpt["model"].values() if v.is_floating_point()).fill_(float("nan"))
    ckpt.pop("checksum")


def _wrong_shape(ckpt: dict) -> None:
    name = next(k for k, v in ckpt["model"].items() if v.dim() == 4)
    ckpt["model"][name] = torch.zeros(1, 1, 1, 1)
    ckpt.pop("checksum")


def _other_config(ckpt: dict) -> None:
    ckpt["config"] = {**ckpt["config"], "lr": 0.5}


@pytest.mark.parametrize("damage, reason", [
    (_flip_a_bit, "checksum"), (_nan, "NaN"), (_wrong_shape, "do not fit the network"),
    (lambda c: c.pop("optimizer"), "missing optimizer"), (_other_config, "another configuration"),
])
def test_a_checkpoint_that_loads_but_is_wrong_is_set_aside_and_retrained(tmp_path, patches64, damage, reason):
    """Issue 15 #7: a flipped bit was used silently; NaN, a wrong shape, a missing key or another config crashed."""
    config = AutoencoderConfig(**TINY)
    first = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    path = first.path
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["checksum"] == checkpoints.weights_checksum(ckpt["model"])
    damage(ckpt)
    torch.save(ckpt, path)
    assert not training.is_cached(config, patches64, tmp_path)
    with pytest.warns(UserWarning, match=f"set aside as checkpoint.pt.unreadable .*{reason}.*training it again"):
        again = load_or_train(config, patches64, cache_dir=tmp_path, device="cpu", progress=False)
    assert again.epochs_trained_now == 1 and path.with_name("checkpoint.pt.unreadable").exists()
    assert same_weights(weights(again.model), weights(first.model))  # retrained to the same network
    assert training.is_cached(config, patches64, tmp_path)


def test_training_in_worker_processes_gives_the_same_networks(tmp_path, patches64):
    """train_many with two one-thread processes = training one after the other in this (one-thread) process."""
    configs = [AutoencoderConfig(dropout=p, **TINY) for p in (0.0, 0.5)]
    parallel = train_many(configs, patches64, cache_dir=tmp_path / "par", device="cpu", workers=2, progress=False)
    serial = [train_autoencoder(c, patches64, device="cpu", progress=False) for c in configs]
    for a, b in zip(parallel, serial):
        assert a.config == b.config and a.epochs_trained_now == 1 and not a.model.training
        assert same_weights(weights(a.model), weights(b.model))
    again = train_many(configs, patches64, cache_dir=tmp_path / "par", device="cpu", workers=2, progress=False)
    assert all(t.from_cache for t in again)
    with pytest.raises(ValueError, match="workers: must be an integer >= 1"):
        train_many(configs, patches64, cache_dir=tmp_path, workers=0)


# ---------------------------------------------------------------- BCE floor and BatchNorm re-estimation


def test_bce_floor_is_the_loss_of_a_perfect_reconstruction(patches64):
    x = torch.as_tensor(patches64.images).clamp(1e-6, 1 - 1e-6)
    _, bce, _ = vae_loss(x, x, torch.zeros(64, 2), None)
    assert bce_floor(x) == pytest.approx(float(bce), rel=1e-5)
    assert bce_floor(x) < float(vae_loss(x.flip(0), x, torch.zeros(64, 2), None)[1])


def test_recalibrated_batchnorm_holds_the_dropout_free_statistics_and_leaves_the_original_alone(patches64):
    trained = train_autoencoder(AutoencoderConfig(dropout=0.5, **TINY), patches64, device="cpu", progress=False)
    before = weights(trained.model)
    recal = recalibrate_batchnorm(trained.model, patches64.images, batch_size=64)
    assert same_weights(weights(trained.model), before) and not recal.training
    params = dict(recal.named_parameters())
    assert all(torch.equal(p, params[k]) for k, p in trained.model.named_parameters())  # no weight changes
    with torch.no_grad():  # the stem's BatchNorm: mean and variance of its input over the data, no dropout
        h = recal.stem.conv(torch.as_tensor(patches64.images))
    torch.testing.assert_close(recal.stem.bn.running_mean, h.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(recal.stem.bn.running_var, h.var(dim=(0, 2, 3), unbiased=True), rtol=1e-3,
                               atol=1e-5)
    with torch.no_grad():  # a BatchNorm behind a dropout layer: statistics of full (not dropped-out) activations
        g = recal.layer1[0].conv1(recal.stem(torch.as_tensor(patches64.images)))
    torch.testing.assert_close(recal.layer1[0].bn1.running_mean, g.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(trained.model.layer1[0].bn1.running_var, recal.layer1[0].bn1.running_var, rtol=0.05)
    assert recal.stem.bn.momentum == trained.model.stem.bn.momentum


def test_dropout_grid_and_cpu_workers() -> None:
    configs = dropout_grid([0.0, -0.0, 0.5], seed=0, width=2, latent_dim=4, epochs=1, n_images=96, batch_size=32)
    assert [c.dropout for c in configs] == [0.0, 0.0, 0.5] and configs[0].key() == configs[1].key()
    for bad, match in (([], "dropout_rates"), ([1.0], "dropout_rates"), ("0.2", "dropout_rates")):
        with pytest.raises(ValueError, match=match):
            dropout_grid(bad, width=2)
    assert workers.cpu_workers("cpu", 20_000, cores=8) == 2 and workers.cpu_workers("cpu", 20_000, cores=1) == 1
    assert workers.cpu_workers("cpu", 5_000, cores=8) == 1


def test_load_networks_trains_once_then_loads(tmp_path) -> None:
    configs = dropout_grid([0.0, 0.5], seed=0, dataset="patches", width=2, latent_dim=4, epochs=1, n_images=64,
                           batch_size=32, lr=1e-3)
    first = grid.load_networks(configs, device="cpu", cache_dir=tmp_path, data_root=None, progress=False)
    again = grid.load_networks(configs, device="cpu", cache_dir=tmp_path, data_root=None, progress=False,
                                   batchnorm="as_trained")
    assert [n.dropout for n in first] == [0.0, 0.5] and all(n.trained.from_cache for n in again)
    assert not first[1].model.training and first[1].batchnorm == "recalibrated"
    state = first[1].model.state_dict()
    assert any(not torch.equal(state[k], again[1].model.state_dict()[k]) for k in state if "running" in k)
    with pytest.raises(ValueError, match="batchnorm"):
        grid.load_networks(configs, cache_dir=tmp_path, data_root=None, batchnorm="fresh")
    with pytest.raises(ValueError, match="differ only in their dropout"):
        grid.load_networks([configs[0], configs[1].__class__(dropout=0.5, width=3)], cache_dir=tmp_path,
                               data_root=None)


_ORPHAN_PARENT = """
import sys, time
from polycode_utils.runtime.workers import worker_pool
pool = worker_pool(2)
futures = [pool.submit(time.sleep, 120) for _ in range(2)]
time.sleep(3)
print(" ".join(str(p) for p in pool._processes), flush=True)
time.sleep(120)
"""


def test_training_workers_die_with_a_hard_killed_parent():
    """Issue 15 #3: SIGKILL (the OOM killer) of the process training in workers leaves no orphan worker."""
    proc = subprocess.Popen([sys.executable, "-c", _ORPHAN_PARENT], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(running(p) for p in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert gone_within(pids, 15), "a worker outlived its parent"
    finally:
        proc.kill()
        for p in pids if "pids" in locals() else []:
            if running(p):
                os.kill(p, signal.SIGKILL)


def test_replicates_share_the_training_images_and_differ_in_their_weights():
    configs = dropout_grid([0.0, 0.5], n_seeds=2, **{k: v for k, v in TINY.items() if k != "dropout"})
    assert [(c.dropout, c.replicate) for c in configs] == [(0.0, 0), (0.0, 1), (0.5, 0), (0.5, 1)]
    assert configs[0].train_seed == configs[0].seed != configs[1].train_seed  # replicate 0 keeps the old seed
    assert load_training_data(configs[0]).images.tobytes() == load_training_data(configs[1]).images.tobytes()
    w = [c.initial_model().state_dict()["stem.conv.weight"] for c in configs]
    assert torch.equal(w[0], w[2]) and not torch.equal(w[0], w[1])  # init depends on the seed, not the rate
    with pytest.raises(ValueError, match="n_seeds: must be"):
        dropout_grid([0.0], n_seeds=0)


@pytest.mark.parametrize("batchnorm", ["recalibrated", "as_trained"])
def test_the_untrained_control_holds_the_initial_weights_and_shares_the_batchnorm_treatment(batchnorm, tmp_path,
                                                                                           monkeypatch):
    config = AutoencoderConfig(**TINY)
    data = load_training_data(config)

    class Frozen(torch.optim.Adam):  # training that changes no weight: the network stays at its initialisation
        def step(self, closure=None):
            return None

    monkeypatch.setattr(torch.optim, "Adam", Frozen)
    [net] = load_networks([config], cache_dir=tmp_path, data_root=None, device="cpu", batchnorm=batchnorm,
                          progress=False, data=data, controls=True)
    trained, control = net.trained.model.state_dict(), net.control.state_dict()
    params = [k for k, _ in net.trained.model.named_parameters()]
    assert all(torch.equal(trained[k], control[k]) for k in params)  # weights: the very initialisation
    buffers = [k for k in control if k.endswith("running_mean")]
    if batchnorm == "recalibrated":  # the same re-estimation on the same images gives the same statistics
        assert all(torch.allclose(net.model.state_dict()[k], control[k], atol=1e-6) for k in buffers)
    else:  # as initialised: no statistics were ever learnt
        assert all(torch.equal(control[k], torch.zeros_like(control[k])) for k in buffers)


def test_mean_colour_loss_is_the_bce_of_a_uniform_patch():
    rng = np.random.default_rng(0)
    flat = np.broadcast_to(rng.uniform(0.2, 0.8, (5, 3, 1, 1)), (5, 3, 8, 8)).astype(np.float32)
    base = mean_colour_loss(flat)  # uniform images: the mean colour reconstructs them exactly
    assert base.mse == pytest.approx(0.0, abs=1e-12) and base.bce == pytest.approx(bce_floor(flat), rel=1e-9)
    noisy = rng.uniform(0, 1, (5, 3, 8, 8)).astype(np.float32)
    assert mean_colour_loss(noisy).mse == pytest.approx(float(noisy.var(axis=(2, 3)).mean()), rel=1e-6)
    with pytest.raises(ValueError, match="images: expected a batch"):
        mean_colour_loss(np.zeros((3, 8, 8)))


def _loss_table(shares: dict[str, list[float]], gains: dict[str, list[float]] | None = None, pca: float = 0.3):
    import pandas as pd  # noqa: PLC0415

    gains = gains or {}
    rows = [{"network": label, "seed": i, "vs mean colour": v,
             "gain, last quarter": gains.get(label, [0.0] * len(values))[i] if label.startswith("p = ") else np.nan}
            for label, values in shares.items() for i, v in enumerate(values)]
    rows.append({"network": "PCA-32", "seed": 0, "vs mean colour": pca, "gain, last quarter": np.nan})
    return pd.DataFrame(rows).set_index(["network", "seed"])


def test_training_verdict_follows_the_linear_bar_the_convergence_rule_and_the_seeds():
    good = ch04.training_verdict(_loss_table({"p = 0": [0.4, 0.45, 0.5], "p = 0.8": [0.55, 0.6, 0.58],
                                              "untrained": [3.0, 3.1, 2.9], "mean colour": [1.0]}))
    assert good.can_test and good.n_learnt == good.n_converged == 6 and good.share_control == pytest.approx(3.0)
    assert good.reason == "" and good.pca_share == 0.3
    poor = ch04.training_verdict(_loss_table({"p = 0": [0.4, 0.45, 0.5], "p = 0.8": [0.55, 0.7, 0.58]}))
    assert not poor.can_test and poor.n_learnt == 5 and "only 5 of its 6" in poor.verdict_text  # 0.7 > 2 x 0.3
    assert poor.reason == ("5 of 6 networks within 2 x PCA's error (theirs: 40% to 70% of a mean-colour patch's) "
                           "(chapter 4)")
    assert ch04.training_verdict(_loss_table({"p = 0": [0.4, 0.45, 0.5], "p = 0.8": [0.55, 0.7, 0.58]}),
                                 max_factor=2.5).can_test
    still = ch04.training_verdict(_loss_table({"p = 0": [0.4, 0.45, 0.5]}, {"p = 0": [0.01, 0.03, 0.0]}))
    assert not still.can_test and still.n_converged == 2 and still.gain_worst == 0.03
    assert "1 of 6" not in still.reason and "1 of 3 still improving" in still.reason
    worse_than_trivial = ch04.training_verdict(_loss_table({"p = 0": [1.1, 1.2, 1.3]}, pca=0.8))  # bar capped at 1
    assert worse_than_trivial.n_learnt == 0 and "none of its 3 networks" in worse_than_trivial.verdict_text
    one_seed = ch04.training_verdict(_loss_table({"p = 0": [0.4], "p = 0.8": [0.5]}))
    assert not one_seed.can_test and "1 seed(s) per dropout rate" in one_seed.verdict_text
    with pytest.raises(ValueError, match="max_gain"):
        ch04.training_verdict(_loss_table({"p = 0": [0.2]}), max_gain=2.0)


def test_the_last_quarter_gain_is_the_relative_fall_of_the_excess():
    floor = 100.0
    assert grid.last_quarter_gain([200.0, 150.0, 130.0, 120.0, 118.0, 117.0, 116.0, 115.0], floor) == \
        pytest.approx((17.0 - 15.0) / 17.0)  # 8 epochs: the last 2, from the end of epoch 6 (17 above the floor) to 8
    assert np.isnan(grid.last_quarter_gain([200.0], floor))
    assert grid.last_quarter_gain([120.0, 110.0], floor) == pytest.approx(0.5)


def test_learning_rate_schedules_have_their_closed_forms():
    constant = AutoencoderConfig(lr=0.01)
    assert [constant.learning_rate(s, 100) for s in (0, 50, 99)] == [0.01, 0.01, 0.01]
    cosine = AutoencoderConfig(lr=0.01, schedule="cosine", warmup=0.1)
    assert cosine.learning_rate(0, 100) == pytest.approx(0.001) and cosine.learning_rate(9, 100) == pytest.approx(0.01)
    assert cosine.learning_rate(10, 100) == pytest.approx(0.01)
    assert cosine.learning_rate(55, 100) == pytest.approx(0.005)  # half-way down the cosine
    assert cosine.learning_rate(100, 100) == pytest.approx(0.0, abs=1e-15)


def test_older_configurations_keep_their_keys():
    # the fields added later are not hashed at their defaults: the key is the hash a configuration had before them
    base = AutoencoderConfig(**TINY)
    before = {k: v for k, v in dataclasses.asdict(base).items() if k not in training.LATER_FIELDS}
    payload = json.dumps({"format": training.CHECKPOINT_FORMAT, **before}, sort_keys=True)
    assert base.key() == hashlib.sha256(payload.encode()).hexdigest()
    assert dataclasses.replace(base, placement="branch").key() != base.key()


def test_branch_placement_leaves_the_identity_path_unmasked():
    every = AutoencoderConfig(**TINY).build_model()
    branch = AutoencoderConfig(**{**TINY, "placement": "branch"}).build_model()
    assert every.n_dropout_sites() == 17 and branch.n_dropout_sites() == 8
    assert every.state_dict().keys() == branch.state_dict().keys()


def test_pca_baseline_reconstructs_data_of_its_rank_exactly():
    rng = np.random.default_rng(0)
    basis, coef = rng.random((3, 3 * 4 * 4)), rng.random((200, 3))
    images = (0.25 + 0.5 * (coef @ basis) / 3).reshape(200, 3, 4, 4)  # rank 3 (plus the mean), inside (0, 1)
    exact = pca_reconstruction(images[:150], images[150:], 3)
    assert np.allclose(exact, images[150:], atol=1e-10)
    assert not np.allclose(pca_reconstruction(images[:150], images[150:], 1), images[150:], atol=1e-3)
    assert excess_share(reconstruction_losses(exact, images[150:]).bce, images[150:]) == pytest.approx(0.0, abs=1e-9)
    means = images[150:].mean(axis=(2, 3), keepdims=True) * np.ones_like(images[150:])
    assert excess_share(reconstruction_losses(means, images[150:]).bce, images[150:]) == pytest.approx(1.0)


def test_batched_training_is_each_network_trained_alone():
    """train_batched (vmap over stacked weights) against train_autoencoder, network by network, at p = 0 without
    latent noise: the first step's loss to float rounding (1e-6), the rest to 1e-3 (Adam's first steps amplify
    rounding: measured 4e-4 after 8 steps); a grid of other rates is refused."""
    base = dict(width=4, latent_dim=8, batch_size=32, n_images=64, epochs=2, image_size=16, variational=False,
                placement="branch", schedule="cosine")
    configs = [AutoencoderConfig(replicate=r, **base) for r in range(2)]
    data = load_training_data(configs[0])
    nets, losses = training.train_batched(configs, data, device="cpu")
    assert losses.shape == (2, 4) and not nets[0].training
    for n, config in enumerate(configs):
        alone = np.asarray(train_autoencoder(config, data, device="cpu", progress=False).history.step_loss)
        assert losses[n, 0] == pytest.approx(alone[0], rel=1e-6)
        assert losses[n] == pytest.approx(alone, rel=1e-3)
    assert not np.allclose(losses[0], losses[1], rtol=1e-3)  # two replicates: two networks, not one twice
    dropped, _ = training.train_batched([AutoencoderConfig(dropout=0.5, replicate=r, **base) for r in range(2)],
                                        data, n_steps=1, device="cpu")
    means = [dict(net.named_buffers())["stem.bn.running_mean"] for net in dropped]
    assert not torch.equal(means[0], means[1])  # BatchNorm statistics per network
    with pytest.raises(ValueError, match="one dropout rate"):
        training.train_batched([configs[0], AutoencoderConfig(dropout=0.5, **base)], data, device="cpu")
