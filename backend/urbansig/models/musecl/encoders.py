"""Image encoders in plain torch with torchvision's state-dict key names.

``ResNet18`` (remote sensing) and ``InceptionV3`` (street view) follow torchvision's
``resnet18`` and ``inception_v3`` layouts, so a user-supplied torchvision weight file loads
with :func:`load_backbone_weights` when the full width and depth are chosen. The defaults are
narrower and shallower (a subset of the same blocks) so CPU runs finish in minutes. The
classifier ``fc`` is replaced by a projection to the embedding size.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from urbansig.protocol import BadInput

RESNET_FULL_BLOCKS = (2, 2, 2, 2)
INCEPTION_FULL = (
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)
INCEPTION_SMALL = ("Mixed_5b", "Mixed_6a", "Mixed_6b", "Mixed_7a", "Mixed_7b")
INCEPTION_MIN_SIZE = 75


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convolutions and a shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet18(nn.Module):
    """ResNet-18 layout; ``width=64, blocks=(2, 2, 2, 2)`` is torchvision's resnet18."""

    # set with setattr in __init__ (torchvision's names)
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self,
        in_channels: int = 3,
        out_dim: int = 128,
        width: int = 16,
        blocks: tuple[int, ...] = (1, 1, 1, 1),
    ) -> None:
        super().__init__()
        if len(blocks) != 4 or min(blocks) < 1 or width < 4:
            raise ValueError("ResNet18 needs four layers of >= 1 block and width >= 4")
        self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        for i, n in enumerate(blocks):
            cout = width * 2**i
            layer = [BasicBlock(cin, cout, 2 if i else 1)]
            layer += [BasicBlock(cout, cout, 1) for j in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = cin
        self.fc = nn.Linear(cin, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (before the projection ``fc``)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class BasicConv2d(nn.Module):
    """Convolution + batch norm (eps 0.001) + ReLU, as torchvision's Inception."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _pool(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "avg":
        return nn.functional.avg_pool2d(x, 3, 1, 1)
    return nn.functional.max_pool2d(x, 3, 2)


class _Mixed(nn.Module):
    """A block of parallel branches (lists of layer names) concatenated on channels."""

    branches: tuple[tuple[str, ...], ...] = ()
    pool: str = ""  # "avg" (before branch_pool conv) or "max" (pooled input as a branch)
    out_channels: int  # set by each block's __init__

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for branch in self.branches:
            y = x
            for name in branch:
                if name == "branch_pool":
                    y = _pool(y, "avg")
                y = getattr(self, name)(y)
            outs.append(y)
        if self.pool == "max":
            outs.append(_pool(x, "max"))
        return torch.cat(outs, 1)


class InceptionA(_Mixed):
    def __init__(self, cin: int, pool_features: int, c) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, c(64), kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, c(48), kernel_size=1)
        self.branch5x5_2 = BasicConv2d(c(48), c(64), kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, c(pool_features), kernel_size=1)
        self.branches = (
            ("branch1x1",),
            ("branch5x5_1", "branch5x5_2"),
            ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
            ("branch_pool",),
        )
        self.out_channels = c(64) * 2 + c(96) + c(pool_features)


class InceptionB(_Mixed):
    def __init__(self, cin: int, c) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, c(384), kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, c(64), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(64), c(96), kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(c(96), c(96), kernel_size=3, stride=2)
        self.branches = (
            ("branch3x3",),
            ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
        )
        self.pool = "max"
        self.out_channels = c(384) + c(96) + cin


class InceptionC(_Mixed):
    def __init__(self, cin: int, channels_7x7: int, c) -> None:
        super().__init__()
        c7 = c(channels_7x7)
        row = {"kernel_size": (1, 7), "padding": (0, 3)}
        col = {"kernel_size": (7, 1), "padding": (3, 0)}
        self.branch1x1 = BasicConv2d(cin, c(192), kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, c(192), **col)
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, c(192), **row)
        self.branch_pool = BasicConv2d(cin, c(192), kernel_size=1)
        self.branches = (
            ("branch1x1",),
            ("branch7x7_1", "branch7x7_2", "branch7x7_3"),
            tuple(f"branch7x7dbl_{i}" for i in range(1, 6)),
            ("branch_pool",),
        )
        self.out_channels = c(192) * 4


class InceptionD(_Mixed):
    def __init__(self, cin: int, c) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, c(192), kernel_size=1)
        self.branch3x3_2 = BasicConv2d(c(192), c(320), kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, c(192), kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(c(192), c(192), kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(c(192), c(192), kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(c(192), c(192), kernel_size=3, stride=2)
        self.branches = (
            ("branch3x3_1", "branch3x3_2"),
            tuple(f"branch7x7x3_{i}" for i in range(1, 5)),
        )
        self.pool = "max"
        self.out_channels = c(320) + c(192) + cin


class InceptionE(nn.Module):
    def __init__(self, cin: int, c) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, c(320), kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, c(384), kernel_size=1)
        self.branch3x3_2a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, c(448), kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(c(448), c(384), kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, c(192), kernel_size=1)
        self.out_channels: int = c(320) + 4 * c(384) + c(192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(_pool(x, "avg"))
        return torch.cat([self.branch1x1(x), b3, bd, bp], 1)


class InceptionV3(nn.Module):
    """Inception-v3 layout; ``width=1.0, blocks=INCEPTION_FULL`` is torchvision's (no aux head).

    ``blocks`` picks which of the Mixed blocks are kept (the default is a subset); inputs
    must be at least 75 x 75 pixels.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_dim: int = 128,
        width: float = 0.125,
        blocks: tuple[str, ...] = INCEPTION_SMALL,
    ) -> None:
        super().__init__()
        unknown = [b for b in blocks if b not in INCEPTION_FULL]
        if unknown or not blocks:
            raise ValueError(f"unknown Inception blocks: {unknown}")

        def c(channels: int) -> int:
            return max(4, int(round(channels * width)))

        self.Conv2d_1a_3x3 = BasicConv2d(in_channels, c(32), kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(c(32), c(32), kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(c(32), c(64), kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(c(64), c(80), kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(c(80), c(192), kernel_size=3)
        cin = c(192)
        pool_features = {"Mixed_5b": 32, "Mixed_5c": 64, "Mixed_5d": 64}
        c7 = {"Mixed_6b": 128, "Mixed_6c": 160, "Mixed_6d": 160, "Mixed_6e": 192}
        self.block_names = tuple(b for b in INCEPTION_FULL if b in blocks)
        for name in self.block_names:
            if name in pool_features:
                block: _Mixed | InceptionE = InceptionA(cin, pool_features[name], c)
            elif name == "Mixed_6a":
                block = InceptionB(cin, c)
            elif name in c7:
                block = InceptionC(cin, c7[name], c)
            elif name == "Mixed_7a":
                block = InceptionD(cin, c)
            else:
                block = InceptionE(cin, c)
            setattr(self, name, block)
            cin = block.out_channels
        self.feature_dim = cin
        self.fc = nn.Linear(cin, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < INCEPTION_MIN_SIZE:
            raise ValueError(f"Inception inputs must be >= {INCEPTION_MIN_SIZE} pixels")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = nn.functional.max_pool2d(x, 3, 2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = nn.functional.max_pool2d(x, 3, 2)
        for name in self.block_names:
            x = getattr(self, name)(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def first_conv_name(model: nn.Module) -> str:
    return "conv1.weight" if isinstance(model, ResNet18) else "Conv2d_1a_3x3.conv.weight"


def load_backbone_weights(model: nn.Module, path: str | Path, parameter: str) -> int:
    """Load a torchvision-style state dict (backbone only; ``fc``/``AuxLogits`` skipped).

    A first convolution with another number of input bands is adapted (RGB mean repeated).
    Returns the number of tensors loaded; BadInput naming ``parameter`` on any mismatch.
    """
    from urbansig.models.serialization import read_torch_file

    state = read_torch_file(
        path,
        parameter,
        "a torch state dict of pretrained weights",
        "give a torchvision state dict (.pth) of this encoder",
    )
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"{parameter}: {path} is not a state dict of tensors.")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    missing = [k for k in own if k not in state]
    if missing:
        raise BadInput(
            f"{parameter}: {path} lacks {len(missing)} tensors of this encoder (e.g. "
            f"{missing[0]}); use a torchvision {type(model).__name__.lower()} file."
        )
    conv = first_conv_name(model)
    loaded = {}
    for key, value in own.items():
        source = state[key]
        if key == conv and source.shape[1] != value.shape[1] and source.shape[0] == value.shape[0]:
            source = source.mean(1, keepdim=True).repeat(1, value.shape[1], 1, 1)
            source = source * (3.0 / value.shape[1])
        if source.shape != value.shape:
            raise BadInput(
                f"{parameter}: tensor {key} has shape {tuple(source.shape)} in {path} but "
                f"{tuple(value.shape)} here; a torchvision file needs the full width and depth "
                "(set the encoder size to 'full')."
            )
        loaded[key] = source
    model.load_state_dict(loaded, strict=False)
    return len(loaded)
