"""Tests for polycode_utils.networks.models (issue 7): the ResNet autoencoder and where its dropout sits."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from polycode_utils.networks.models import (
    DEPTH_NAMES,
    DropoutBasicBlock,
    ResNetAutoencoder,
    check_layers,
    dropout_noise_copy,
    n_features,
)

ENCODER_RESNET = ("stem", "layer1", "layer2", "layer3", "layer4")


def tiny(dropout: float = 0.0, **kw) -> ResNetAutoencoder:
    torch.manual_seed(0)
    return ResNetAutoencoder(dropout=dropout, width=4, latent_dim=8, **kw)


def images(n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def call_trace(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]]:
    """Every leaf-module call of a forward pass, in order: (qualified name, module, input, output)."""
    events, handles = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(
                lambda m, args, out, name=name: events.append((name, m, args[0], out))))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return events


def test_one_dropout_after_each_relu_application_in_the_resnet_encoder_and_none_elsewhere():
    model = tiny(dropout=0.3).train()
    events = [e for e in call_trace(model, images()) if not isinstance(e[1], nn.Identity)]  # taps: no-ops
    in_resnet = lambda name: name.split(".")[0] in ENCODER_RESNET  # noqa: E731
    relus = [i for i, (name, m, _, _) in enumerate(events) if isinstance(m, nn.ReLU)]
    drops = [i for i, (name, m, _, _) in enumerate(events) if isinstance(m, nn.Dropout)]
    resnet_relus = [i for i in relus if in_resnet(events[i][0])]
    # ResNet-18: the stem's ReLU, then 8 BasicBlocks applying their ReLU twice each (authors' placement).
    assert len(resnet_relus) == 1 + 8 * 2
    assert len(drops) == len(resnet_relus)
    for i in resnet_relus:
        name, drop, drop_in, _ = events[i + 1]
        assert isinstance(drop, nn.Dropout), f"ReLU call {events[i][0]} is not followed by a Dropout"
        assert drop_in is events[i][3], "the Dropout does not act on the ReLU's output"
    assert sorted(i + 1 for i in resnet_relus) == drops  # every Dropout call sits right after a ResNet ReLU
    other_relus = [i for i in relus if not in_resnet(events[i][0])]
    assert other_relus, "the FC layers and the decoder apply ReLUs too"
    for i in other_relus:  # ...but never dropout (the authors' dropout lives inside resnet18 only)
        assert i + 1 == len(events) or not isinstance(events[i + 1][1], nn.Dropout)
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout):
            assert name.split(".")[0] in ENCODER_RESNET and module.p == pytest.approx(0.3)


def test_eval_mode_is_deterministic_and_train_mode_is_not():
    model, x = tiny(dropout=0.5), images()
    model.eval()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    b = model(x)
    assert torch.equal(a.reconstruction, b.reconstruction) and torch.equal(a.z, a.mu)
    model.train()
    torch.manual_seed(1)
    c = model(x).reconstruction
    torch.manual_seed(2)
    d = model(x).reconstruction
    assert not torch.allclose(c, d)


def test_dropout_zero_equals_the_dropout_free_model_in_training_mode():
    model = tiny(dropout=0.0).train()
    plain = copy.deepcopy(model)
    for block in plain.modules():
        for name, child in list(block.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(block, name, nn.Identity())
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    x = images()
    torch.manual_seed(5)
    out = model(x)
    torch.manual_seed(5)
    ref = plain(x)
    for a, b in zip(out[:3], ref[:3]):
        assert torch.equal(a, b)
    out.reconstruction.sum().backward()
    ref.reconstruction.sum().backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.equal(p.grad, q.grad), name


def test_block_at_p0_is_torchvisions_basicblock():
    torch.manual_seed(0)
    down = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
    block = DropoutBasicBlock(4, 8, stride=2, downsample=down, dropout=0.0).train()
    x = torch.randn(5, 4, 16, 16)
    assert torch.equal(block(x), BasicBlock.forward(block, x))


def test_depth_layers_in_order_with_the_promised_shapes():
    model = tiny().eval()
    layers = model.depth_layers()
    assert tuple(layers) == DEPTH_NAMES
    seen = {}
    handles = [m.register_forward_hook(lambda m, a, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))
               for name, m in layers.items()]
    model(images(2))
    for h in handles:
        h.remove()
    assert seen == dict(model.depth_shapes())
    assert model.depth_shapes()["layer4"] == (32, 4, 4) and n_features((32, 4, 4)) == 512
    assert model.depth_shapes()["fc1"] == (64,)  # fc_hidden = 16 * width, as the authors' 1024 at width 64


def test_forward_outputs_and_the_non_variational_variant():
    model, x = tiny().train(), images()
    out = model(x)
    assert out.reconstruction.shape == x.shape and out.mu.shape == (6, 8) and out.logvar.shape == (6, 8)
    assert float(out.reconstruction.detach().min()) > 0 and float(out.reconstruction.detach().max()) < 1
    assert not torch.equal(out.z, out.mu)  # sampled while training
    ae = tiny(variational=False).train()
    out = ae(x)
    assert out.logvar is None and torch.equal(out.z, out.mu) and ae.logvar is None


def test_architecture_table_accounts_for_every_parameter():
    model = tiny(dropout=0.2)
    rows = model.architecture()
    assert sum(r.parameters for r in rows) == model.n_parameters()
    by_name = {r.name: r for r in rows}
    assert by_name["layer2"].output_shape == (8, 16, 16) and "p = 0.2" in by_name["layer2"].dropout
    assert by_name["fc1"].dropout == "none" and by_name["deconv3"].output_shape == (3, 32, 32)
    assert ResNetAutoencoder(width=64).depth_shapes()["layer4"] == (512, 4, 4)  # ResNet-18's widths at 64


@pytest.mark.parametrize("kw, name", [({"dropout": 1.0}, "dropout"), ({"dropout": -0.1}, "dropout"),
                                      ({"width": 0}, "width"), ({"latent_dim": -3}, "latent_dim"),
                                      ({"image_size": 20}, "image_size")])
def test_bad_arguments_name_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        ResNetAutoencoder(**kw)


def test_check_layers() -> None:
    assert check_layers(["mu", "stem", "mu"]) == ["stem", "mu"]  # depth order, once each
    assert check_layers(list(DEPTH_NAMES)) == list(DEPTH_NAMES)
    for bad in (["stem", "conv9"], [], "stem"):
        with pytest.raises(ValueError, match="layers"):
            check_layers(bad)


def test_dropout_noise_copy_is_seeded_and_leaves_the_original() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 30)).eval()
    x = torch.randn(200, 20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b, a_again = (dropout_noise_copy(model, s)(x) for s in (1, 2, 1))  # seeded: fresh copies repeat
        assert not torch.equal(a, b) and torch.equal(a, a_again)
        assert torch.equal(model(x), model(x)) and isinstance(model[2], nn.Dropout)  # the original is untouched
        kept = (dropout_noise_copy(model, 3)[:3](x) != 0).double().mean().item()
    assert kept == pytest.approx(0.5 * (model[:2](x) != 0).double().mean().item(), abs=0.02)
