"""Hidden activations of a network by depth, recorded with forward hooks (the raw material of Figs. 3-5).

Each layer's output is flattened per image (C, H, W -> C*H*W, in that order) as the paper's eigenspectra use it.
The network runs in eval mode (no dropout, z = mu) without gradients; its mode is restored afterwards and every
hook is removed, also when the forward pass raises.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from polycode_utils.checks import check_int

ArrayLike = np.ndarray | torch.Tensor


def resolve_layers(model: nn.Module, layers: Sequence[str] | None, pre_dropout: bool = False
                   ) -> OrderedDict[str, nn.Module]:
    """Names -> modules: from model.depth_layers(pre_dropout) when the model has it, else model.get_submodule(name)."""
    if pre_dropout and not hasattr(model, "depth_layers"):
        raise ValueError("pre_dropout: this model has no depth_layers(pre_dropout=...) to say where its masks are")
    available = (model.depth_layers(pre_dropout=True) if pre_dropout else model.depth_layers()) \
        if hasattr(model, "depth_layers") else None
    if layers is None:
        if available is None:
            raise ValueError("layers: this model has no depth_layers(); name the submodules to record")
        return OrderedDict(available)
    if isinstance(layers, str) or not layers:
        raise ValueError(f"layers: must be a non-empty list of layer names, got {layers!r}")
    out: OrderedDict[str, nn.Module] = OrderedDict()
    for name in layers:
        if available is not None and name in available:
            out[name] = available[name]
            continue
        try:
            out[name] = model.get_submodule(name)
        except AttributeError:
            allowed = ", ".join(available) if available is not None else "submodule names of the model"
            raise ValueError(f"layers: unknown layer {name!r}; allowed: {allowed}") from None
    return out


def _batches(inputs: ArrayLike | Iterable[ArrayLike], batch_size: int) -> Iterator[torch.Tensor]:
    """Slices of an array/tensor of inputs, or the batches of an iterable, as float tensors."""
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        t = torch.as_tensor(inputs)
        if t.ndim < 2 or t.shape[0] == 0:
            raise ValueError(f"inputs: expected a batch (N, ...) with N >= 1, got shape {tuple(t.shape)}")
        for start in range(0, t.shape[0], batch_size):
            yield t[start:start + batch_size]
    else:
        for batch in inputs:
            yield torch.as_tensor(batch)


@contextmanager
def _hooked(model: nn.Module, modules: OrderedDict[str, nn.Module],
            sink: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Forward hooks sending each named module's output (flattened per sample) to sink; always removed, eval mode."""
    handles = []
    was_training = model.training

    def make_hook(name: str) -> Callable:
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            sink(name, output.detach().flatten(1))
        return hook

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        model.eval()
        with torch.no_grad():
            yield
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def _forward(model: nn.Module, x: torch.Tensor) -> None:
    """Run the part of the network that holds the depth layers (the encoder, when the model has one)."""
    (model.encode if hasattr(model, "encode") else model)(x)


def _device_of(model: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def record_activations(model: nn.Module, inputs: ArrayLike, layers: Sequence[str] | None = None,
                       batch_size: int = 256, device: str | torch.device | None = None, pre_dropout: bool = False
                       ) -> OrderedDict[str, np.ndarray]:
    """Activations {layer: (N, features) float32} of N inputs at the named depths (Fig. 3: input, stem .. mu);
    pre_dropout=True records the stages before their own last dropout mask (model.depth_layers(pre_dropout))."""
    modules = resolve_layers(model, layers, pre_dropout)
    batch_size = check_int(batch_size, "batch_size")
    dev = _device_of(model, device)
    n = int(torch.as_tensor(inputs).shape[0]) if isinstance(inputs, (np.ndarray, torch.Tensor)) else None
    if n is None:
        raise ValueError("inputs: record_activations needs an array or tensor (N, ...); for a stream of batches "
                         "use stream_covariances")
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    cursor = {"start": 0, "size": 0}

    def sink(name: str, act: torch.Tensor) -> None:
        if name not in out:
            out[name] = np.empty((n, act.shape[1]), dtype=np.float32)
        out[name][cursor["start"]:cursor["start"] + cursor["size"]] = act.float().cpu().numpy()

    with _hooked(model, modules, sink):
        for batch in _batches(inputs, batch_size):
            cursor["size"] = int(batch.shape[0])
            _forward(model, batch.to(dev, dtype=torch.float32))
            cursor["start"] += cursor["size"]
    missing = [name for name in modules if name not in out]
    if missing:
        raise ValueError(f"layers: {missing} never ran in the forward pass; record layers the forward pass uses")
    return OrderedDict((name, out[name]) for name in modules)


def stream_covariances(model: nn.Module, inputs: ArrayLike | Iterable[ArrayLike], layers: Sequence[str] | None = None,
                       batch_size: int = 256, device: str | torch.device | None = None) -> OrderedDict:
    """Per-layer CovarianceAccumulator fed batch by batch: spectra of many inputs without keeping activations."""
    from polycode_utils.instruments.spectra import CovarianceAccumulator  # noqa: PLC0415

    modules = resolve_layers(model, layers)
    batch_size = check_int(batch_size, "batch_size")
    dev = _device_of(model, device)
    accs: OrderedDict[str, CovarianceAccumulator] = OrderedDict()

    def sink(name: str, act: torch.Tensor) -> None:
        if name not in accs:
            accs[name] = CovarianceAccumulator(int(act.shape[1]), device=act.device)
        accs[name].update(act)

    with _hooked(model, modules, sink):
        for batch in _batches(inputs, batch_size):
            _forward(model, batch.to(dev, dtype=torch.float32))
    missing = [name for name in modules if name not in accs]
    if missing:
        raise ValueError(f"layers: {missing} never ran (no inputs, or not on the forward path)")
    return OrderedDict((name, accs[name]) for name in modules)
