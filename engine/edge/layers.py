"""A network's shape as plain data, and the network built back from it: how Try it rebuilds an Edge AI run's
models from the run's own weights, whatever it started from (a network trained here, an XAI MLP, a NAS winner
wrapped to take flat rows, a pruned copy with fewer neurons, a student).

``spec(model)`` walks the module tree: an ``nn.Sequential`` is ``["Sequential", [children]]``, a layer is
``[type, {constructor arguments}]`` (JSON: tuples become lists). ``build(spec)`` makes the same modules with fresh
weights; ``load_state_dict`` then puts the stored ones in. A layer type not listed here raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

ARGUMENTS: dict[type[nn.Module], tuple[str, ...]] = {
    nn.Linear: ("in_features", "out_features"),
    nn.Conv2d: ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    nn.Conv1d: ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    nn.MaxPool2d: ("kernel_size", "stride", "padding"),
    nn.AvgPool2d: ("kernel_size", "stride", "padding"),
    nn.BatchNorm1d: ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    nn.BatchNorm2d: ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    nn.Flatten: ("start_dim", "end_dim"),
    nn.Unflatten: ("dim", "unflattened_size"),
    nn.Dropout: ("p",),
    nn.LeakyReLU: ("negative_slope",),
    nn.ELU: ("alpha",),
    nn.GELU: ("approximate",),
    nn.ReLU: (),
    nn.Tanh: (),
    nn.Sigmoid: (),
    nn.SiLU: (),
    nn.Identity: (),
}
BY_NAME = {cls.__name__: cls for cls in ARGUMENTS}
WITH_BIAS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def spec(model: nn.Module) -> list:
    """``model``'s layers as plain (JSON-ready) data; ValueError for a layer this module cannot describe."""
    if type(model) is nn.Sequential:
        return ["Sequential", [spec(child) for child in model]]
    cls = type(model)
    if cls not in ARGUMENTS:
        raise ValueError(f"a {cls.__name__} layer cannot be described")
    args: dict[str, Any] = {name: getattr(model, name) for name in ARGUMENTS[cls]}
    if isinstance(model, WITH_BIAS):
        args["bias"] = model.bias is not None
    return [cls.__name__, args]


def _plain(value):
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value


def build(described: list) -> nn.Module:
    """The modules ``described`` (from :func:`spec`), with fresh weights, in eval mode."""
    kind, args = described
    if kind == "Sequential":
        return nn.Sequential(*(build(child) for child in args)).eval()
    if kind not in BY_NAME:
        raise ValueError(f"unknown layer type {kind!r}")
    return BY_NAME[kind](**{k: _plain(v) for k, v in args.items()}).eval()
