"""Where activations are read in a transformer, by name (as TransformerLens names hook points, on raw transformers
modules, without weight folding): "resid.<l>", "mlp.<l>", "attn.<l>" for block l (0-based).

- resid: the output of block l (a forward hook on the block; transformers' last hidden_states is the post-final-norm
  state instead, so it is not used).
- mlp: the MLP's hidden post-activation: GPT-2 ``mlp.act`` output (width 4d); Llama-family the input of
  ``mlp.down_proj`` (SwiGLU: silu(gate) * up, signed, intermediate_size wide); BERT ``intermediate`` output.
- attn: the attention sublayer's contribution to the residual stream (its output projection).

The forward stops after the deepest requested block, runs under ``torch.inference_mode()``, and every hook is
removed afterwards, also when the forward raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from polycode_utils.checks import check_choice, check_int, check_sequence
from polycode_utils.networks.language.models import LanguageModel

SITE_KINDS = ("resid", "mlp", "attn")


@dataclass(frozen=True)
class _Layout:
    blocks: str              # path of the ModuleList of blocks in the model body
    mlp: tuple[str, str]     # (submodule of a block, "output" or "input")
    attn: tuple[str, str]


LAYOUTS = {
    "gpt2": _Layout("h", ("mlp.act", "output"), ("attn", "output")),
    "llama": _Layout("layers", ("mlp.down_proj", "input"), ("self_attn", "output")),
    "bert": _Layout("encoder.layer", ("intermediate", "output"), ("attention.output.dense", "output")),
}


class _StopForward(Exception):
    """Raised by a hook after the deepest requested block: the rest of the forward is not needed."""


def _has(module: nn.Module, path: str) -> bool:
    try:
        module.get_submodule(path)
        return True
    except AttributeError:
        return False


def architecture(lm: LanguageModel) -> str:
    """Which layout the model follows ("gpt2", "llama" for Llama-family, "bert"), or ValueError listing its modules."""
    body = lm.body
    for name, layout in LAYOUTS.items():
        if _has(body, layout.blocks):
            blocks = body.get_submodule(layout.blocks)
            if len(blocks) and _has(blocks[0], layout.mlp[0]) and _has(blocks[0], layout.attn[0]):
                return name
    found = [n for n, _ in body.named_modules()  # the body's modules, of the first block only
             if n and n.count(".") <= 3 and all(not p.isdigit() or p == "0" for p in n.split("."))][:60]
    raise ValueError(f"model {lm.name!r}: unknown architecture {type(lm.model).__name__}; recognised: GPT-2, "
                     f"Llama-family, BERT. Its modules: {', '.join(found)}")


def blocks_of(lm: LanguageModel) -> nn.ModuleList:
    """The model's transformer blocks, in order."""
    return lm.body.get_submodule(LAYOUTS[architecture(lm)].blocks)


def site_width(lm: LanguageModel, kind: str) -> int:
    """Width of a site: d_model for resid and attn; the MLP's hidden width (4d in GPT-2, intermediate_size)."""
    check_choice(kind, "kind", SITE_KINDS)
    cfg = lm.config
    d = int(getattr(cfg, "hidden_size", None) or cfg.n_embd)
    if kind != "mlp":
        return d
    inner = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None)
    return int(inner) if inner else 4 * d


def site_names(lm: LanguageModel, sites: Sequence[str] = ("resid", "mlp"),
               layers: Sequence[int] | None = None) -> list[str]:
    """Validated site names "kind.layer", layer by layer; layers None (or empty): every block."""
    kinds = check_sequence(sites, "sites", max_len=len(SITE_KINDS))
    for kind in kinds:
        check_choice(kind, "sites", SITE_KINDS)
    n = lm.n_layers
    if layers is None or (isinstance(layers, Sequence) and not isinstance(layers, str) and len(layers) == 0):
        chosen = list(range(n))
    else:
        chosen = sorted({check_int(v, "layers", 0, n - 1) for v in check_sequence(layers, "layers")})
    return [f"{kind}.{layer}" for layer in chosen for kind in SITE_KINDS if kind in kinds]


def parse_site(name: str) -> tuple[str, int]:
    """("mlp", 3) from "mlp.3"."""
    kind, _, layer = name.partition(".")
    return kind, int(layer)


def _first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


def run_sites(lm: LanguageModel, windows: torch.Tensor, names: Sequence[str], batch_size: int,
              sink: Callable[[str, torch.Tensor, int], None], *, after_batch: Callable[[int], None] | None = None,
              progress=None) -> None:
    """Forward the windows in batches; for every batch, sink(site, activations (B, T, width), first row index)."""
    layout = LAYOUTS[architecture(lm)]
    blocks = blocks_of(lm)
    parsed = [parse_site(n) for n in names]
    state = {"row": 0}
    handles = []

    def output_hook(name: str) -> Callable:
        def hook(module, args, output):
            sink(name, _first(output), state["row"])
        return hook

    def input_hook(name: str) -> Callable:
        def hook(module, args):
            sink(name, args[0], state["row"])
        return hook

    def stop(module, args, output):
        raise _StopForward

    try:
        for name, (kind, layer) in zip(names, parsed):
            block = blocks[layer]
            if kind == "resid":
                handles.append(block.register_forward_hook(output_hook(name)))
                continue
            path, where = getattr(layout, kind)
            module = block.get_submodule(path)
            handles.append(module.register_forward_pre_hook(input_hook(name)) if where == "input"
                           else module.register_forward_hook(output_hook(name)))
        handles.append(blocks[max(layer for _, layer in parsed)].register_forward_hook(stop))
        with torch.inference_mode():
            for start in range(0, windows.shape[0], batch_size):
                state["row"] = start
                ids = windows[start:start + batch_size].to(lm.device)
                try:
                    lm.body(input_ids=ids, **({"use_cache": False} if lm.causal else {}))
                except _StopForward:
                    pass
                if after_batch is not None:
                    after_batch(start)
                if progress is not None:
                    progress.update(int(ids.shape[0]))
    finally:
        for h in handles:
            h.remove()
