"""The ResNet autoencoder of chapter 4 (the network behind Figs. 3-5), with dropout after every encoder ReLU.

The authors' network [paper code] is a ResNet-18 VAE: torchvision's ``resnet18`` with every ``nn.ReLU`` replaced by
``ReLU -> Dropout(p)`` (so a BasicBlock, which applies its one ``relu`` twice, drops out twice), two fully
connected layers, a Gaussian latent and a transposed-convolution decoder with a sigmoid output. Ours keeps that
family and the dropout placement, adapted to 32x32 inputs [ours]: a 3x3 stride-1 stem without max-pooling, base
width ``width`` (the paper's 64 gives ResNet-18's 64-128-256-512 channels) and FC width ``16 * width`` (1024 at 64).
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, conv1x1, conv3x3

from polycode_utils.checks import check_choice, check_dropout, check_int

BLOCKS_PER_LAYER = (2, 2, 2, 2)  # ResNet-18
# Where dropout sits: after every ReLU of the ResNet (the authors' code), or only after the ReLU inside each residual
# branch, so that the identity path carries no mask (the placement of wide ResNets) [ours; chapter 4's frontier study
# found the authors' placement unable to learn at narrow widths and high rates]
PLACEMENTS = ("every_relu", "branch")
DEPTH_NAMES = ("input", "stem", "layer1", "layer2", "layer3", "layer4", "pooled", "fc1", "fc2", "mu")
INPUT_DEPTH = "input"  # "layer 0": the pixels themselves, the control every depth is read against [ours]
CONV_DEPTHS = DEPTH_NAMES[1:6]  # the convolutional stages
DENSE_DEPTHS = DEPTH_NAMES[6:]  # the dense layers: pooled features, the FC layers, the latent mean
CONV_PART, DENSE_PART = "conv stages", "dense layers"
DEPTH_PARTS = {CONV_PART: CONV_DEPTHS, DENSE_PART: DENSE_DEPTHS}  # depth trends are read within each part


def check_layers(layers: Sequence[str]) -> list[str]:
    """Validate depth-layer names (Figs. 3-5: input, stem .. mu) and return them once each, in depth order."""
    if isinstance(layers, str) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError(f"layers: must be a non-empty list of names from {', '.join(DEPTH_NAMES)}, got {layers!r}")
    unknown = [name for name in layers if name not in DEPTH_NAMES]
    if unknown:
        raise ValueError(f"layers: unknown layer(s) {unknown}; allowed: {', '.join(DEPTH_NAMES)}")
    return [name for name in DEPTH_NAMES if name in layers]


class DropoutBasicBlock(BasicBlock):
    """torchvision's BasicBlock with dropout after each of its two ReLU applications (the authors' placement), or
    after the one inside the residual branch only (placement "branch")."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 dropout: float = 0.0, placement: str = "every_relu") -> None:
        super().__init__(inplanes, planes, stride, downsample)
        self.drop1 = nn.Dropout(check_dropout(dropout))  # after the ReLU inside the residual branch
        # after the ReLU that follows the residual sum (the authors'; none with placement "branch")
        self.drop2 = nn.Dropout(dropout) if placement == "every_relu" else nn.Identity()
        self.pre_drop2 = nn.Identity()  # a tap: the block's output before its last dropout mask (cvPCA records here)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """BasicBlock.forward with Dropout inserted after each ``self.relu`` call and nowhere else."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.drop1(self.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.drop2(self.pre_drop2(self.relu(out + identity)))


class AutoencoderOutput(NamedTuple):
    """A forward pass, as the authors' ``(x_reconst, z, mu, logvar)``; logvar is None if not variational."""

    reconstruction: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor | None


@dataclass(frozen=True)
class LayerSummary:
    """One row of the architecture table: a part of the network, its output per image, parameters, dropout."""

    name: str
    role: str
    output_shape: tuple[int, ...]
    parameters: int
    dropout: str


class ResNetAutoencoder(nn.Module):
    """ResNet-18-family (variational) autoencoder for 32x32 RGB images, dropout after every encoder-ResNet ReLU (or,
    placement "branch", inside the residual branches only)."""

    def __init__(self, dropout: float = 0.0, width: int = 64, latent_dim: int = 256, variational: bool = True,
                 fc_hidden: int | None = None, image_size: int = 32, placement: str = "every_relu") -> None:
        super().__init__()
        self.dropout = check_dropout(dropout)
        self.placement = check_choice(placement, "placement", PLACEMENTS)
        self.width = check_int(width, "width")
        self.latent_dim = check_int(latent_dim, "latent_dim")
        self.fc_hidden = check_int(16 * width if fc_hidden is None else fc_hidden, "fc_hidden")
        self.image_size = check_int(image_size, "image_size")
        if image_size % 8 != 0:
            raise ValueError(f"image_size: must be a multiple of 8 (three stride-2 stages), got {image_size}")
        self.variational = bool(variational)
        p, w = self.dropout, self.width
        # Encoder: the ResNet (stem, layer1..layer4; dropout after each ReLU), global pooling, two FC layers.
        self.input = nn.Identity()  # a tap: the pixels, "layer 0" of the depth layers
        self.stem = nn.Sequential(OrderedDict(conv=conv3x3(3, w), bn=nn.BatchNorm2d(w), relu=nn.ReLU(inplace=True),
                                              drop=nn.Dropout(p) if placement == "every_relu" else nn.Identity()))
        self._inplanes = w
        self.layer1 = self._make_layer(w, BLOCKS_PER_LAYER[0], 1)
        self.layer2 = self._make_layer(2 * w, BLOCKS_PER_LAYER[1], 2)
        self.layer3 = self._make_layer(4 * w, BLOCKS_PER_LAYER[2], 2)
        self.layer4 = self._make_layer(8 * w, BLOCKS_PER_LAYER[3], 2)
        self.pooled = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        h = self.fc_hidden
        self.fc1 = nn.Sequential(nn.Linear(8 * w, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True))
        self.fc2 = nn.Sequential(nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True))
        self.mu = nn.Linear(h, self.latent_dim)
        self.logvar = nn.Linear(h, self.latent_dim) if self.variational else None
        # Decoder: FC back to an (8w, s/8, s/8) map, three transposed convolutions doubling the size, sigmoid.
        s8 = image_size // 8
        self.decoder_fc = nn.Sequential(nn.Linear(self.latent_dim, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True),
                                        nn.Linear(h, 8 * w * s8 * s8), nn.BatchNorm1d(8 * w * s8 * s8),
                                        nn.ReLU(inplace=True), nn.Unflatten(1, (8 * w, s8, s8)))
        self.deconv1 = self._up(8 * w, 4 * w)
        self.deconv2 = self._up(4 * w, 2 * w)
        self.deconv3 = nn.Sequential(nn.ConvTranspose2d(2 * w, 3, kernel_size=4, stride=2, padding=1), nn.Sigmoid())
        self._init_weights()

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        """torchvision ResNet._make_layer with DropoutBasicBlock (1x1 projection shortcut where the shape changes)."""
        downsample = None
        if stride != 1 or self._inplanes != planes:
            downsample = nn.Sequential(conv1x1(self._inplanes, planes, stride), nn.BatchNorm2d(planes))
        layers = [DropoutBasicBlock(self._inplanes, planes, stride, downsample, self.dropout, self.placement)]
        self._inplanes = planes
        layers += [DropoutBasicBlock(planes, planes, dropout=self.dropout, placement=self.placement)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    @staticmethod
    def _up(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True))

    def _init_weights(self) -> None:
        """torchvision's ResNet initialisation: Kaiming-normal convolutions (fan_out), BatchNorm weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    # ---------------------------------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images (N, 3, s, s) in [0, 1] -> latent mean and log-variance (N, latent_dim)."""
        x = self.stem(self.input(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.fc2(self.fc1(self.pooled(x)))
        return self.mu(x), (self.logvar(x) if self.logvar is not None else None)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent codes (N, latent_dim) -> reconstructed images (N, 3, s, s) in (0, 1)."""
        return self.deconv3(self.deconv2(self.deconv1(self.decoder_fc(z))))

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        """Encode, sample z = mu + sigma * eps when training (z = mu in eval mode), decode."""
        mu, logvar = self.encode(x)
        z = mu
        if logvar is not None and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return AutoencoderOutput(self.decode(z), z, mu, logvar)

    # ---------------------------------------------------------------------------------------------------------
    def depth_layers(self, pre_dropout: bool = False) -> OrderedDict[str, nn.Module]:
        """The encoder's places by depth (Figs. 3 and 4 record here): input, stem, layer1..layer4, pooled, fc1, fc2, mu.

        pre_dropout=True: the stem and the four stages are recorded before their own last dropout mask (the stem's
        ReLU, the last block's tap), so that dropout-noise repeats differ by the noise upstream only (cvPCA) [ours].
        """
        if not pre_dropout:
            return OrderedDict((name, getattr(self, name)) for name in DEPTH_NAMES)
        taps = {"stem": self.stem.relu, **{f"layer{i}": getattr(self, f"layer{i}")[-1].pre_drop2 for i in range(1, 5)}}
        return OrderedDict((name, taps.get(name, getattr(self, name))) for name in DEPTH_NAMES)

    def depth_shapes(self) -> OrderedDict[str, tuple[int, ...]]:
        """Output shape per image of each depth layer, e.g. layer2 -> (2w, s/2, s/2); features = their product."""
        w, s = self.width, self.image_size
        return OrderedDict([("input", (3, s, s)), ("stem", (w, s, s)), ("layer1", (w, s, s)),
                            ("layer2", (2 * w, s // 2, s // 2)),
                            ("layer3", (4 * w, s // 4, s // 4)), ("layer4", (8 * w, s // 8, s // 8)),
                            ("pooled", (8 * w,)), ("fc1", (self.fc_hidden,)), ("fc2", (self.fc_hidden,)),
                            ("mu", (self.latent_dim,))])

    def architecture(self) -> list[LayerSummary]:
        """The network as a table: every part in forward order, its output per image, parameters, dropout."""
        w, s = self.width, self.image_size
        shapes = dict(self.depth_shapes())
        if self.placement == "every_relu":
            n_relu = {"stem": 1, **{f"layer{i}": 2 * BLOCKS_PER_LAYER[i - 1] for i in range(1, 5)}}
            drop = {name: f"{n} × dropout (p = {self.dropout:g}), one after each ReLU" for name, n in n_relu.items()}
        else:
            drop = {"stem": "none", **{f"layer{i}": f"{BLOCKS_PER_LAYER[i - 1]} × dropout (p = {self.dropout:g}), "
                                       "one inside each residual branch" for i in range(1, 5)}}
        rows: list[tuple[str, str, tuple[int, ...], str]] = [
            ("stem", "encoder: conv 3x3, BN, ReLU", shapes["stem"], drop["stem"]),
            *((f"layer{i}", f"encoder: {BLOCKS_PER_LAYER[i - 1]} BasicBlocks" + (", stride 2" if i > 1 else ""),
               shapes[f"layer{i}"], drop[f"layer{i}"]) for i in range(1, 5)),
            ("pooled", "encoder: global average pool", shapes["pooled"], "none"),
            ("fc1", "encoder: linear, BN, ReLU", shapes["fc1"], "none"),
            ("fc2", "encoder: linear, BN, ReLU", shapes["fc2"], "none"),
            ("mu", "latent mean", shapes["mu"], "none"),
        ]
        if self.logvar is not None:
            rows.append(("logvar", "latent log-variance", (self.latent_dim,), "none"))
        rows += [("decoder_fc", "decoder: 2 x (linear, BN, ReLU)", (8 * w, s // 8, s // 8), "none"),
                 ("deconv1", "decoder: transposed conv 4x4/2, BN, ReLU", (4 * w, s // 4, s // 4), "none"),
                 ("deconv2", "decoder: transposed conv 4x4/2, BN, ReLU", (2 * w, s // 2, s // 2), "none"),
                 ("deconv3", "decoder: transposed conv 4x4/2, sigmoid", (3, s, s), "none")]
        return [LayerSummary(name, role, shape, sum(p.numel() for p in getattr(self, name).parameters()), d)
                for name, role, shape, d in rows]

    def n_parameters(self) -> int:
        """Total number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def n_dropout_sites(self) -> int:
        """Dropout layers in the encoder: one after the stem's ReLU and two in each BasicBlock (the authors'
        placement), or one in each BasicBlock's residual branch (placement "branch")."""
        return sum(isinstance(m, nn.Dropout) for m in self.modules())


def architecture_table(model: ResNetAutoencoder) -> pd.DataFrame:
    """The network part by part (chapter 4's table): role, output per image, parameters, dropout sites."""
    rate = f" (p = {model.dropout:g})"
    return pd.DataFrame([{"part": r.name, "what": r.role, "output per image": " × ".join(map(str, r.output_shape)),
                          "parameters": f"{r.parameters:,}", "dropout": r.dropout.replace(rate, "")}
                         for r in model.architecture()]).set_index("part")


def n_features(shape: tuple[int, ...]) -> int:
    """Number of activations per image of a layer with this output shape (flattened, as chapters 5-6 use them)."""
    return math.prod(shape)


# ---------------------------------------------------------------------------------------------------------------
# Network transforms


class _AlwaysDropout(nn.Module):
    """Dropout that stays on in eval mode, its masks drawn from its own generator (the noise of the cvPCA repeats)."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = float(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


def dropout_noise_copy(model: nn.Module, seed: int) -> nn.Module:
    """A copy of the network whose dropout stays on in eval mode, seeded: one noisy repeat for cvPCA [ours]."""
    seed = check_int(seed, "seed", 0)
    noisy = copy.deepcopy(model).eval()
    param = next(noisy.parameters(), None)
    gen = torch.Generator(device=param.device if param is not None else "cpu").manual_seed(seed)
    for name, module in list(noisy.named_modules()):
        if isinstance(module, nn.Dropout) and module.p > 0:
            parent_name, _, child = name.rpartition(".")
            setattr(noisy.get_submodule(parent_name) if parent_name else noisy, child, _AlwaysDropout(module.p, gen))
    return noisy
