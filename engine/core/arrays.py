"""A run's arrays, stored as data: numbers as safetensors, the rest as JSON, never a pickle.

``Result.arrays`` holds what a technique's charts and words read: NumPy arrays, lists or dicts of arrays, and
plain JSON values (names, one number). :func:`pack` turns that into one safetensors blob plus a JSON manifest;
:func:`unpack` gives the same dict back. Values that are neither (a torch model kept for the worker's own
after-training steps) are left out: they never leave the worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NUMERIC = "fiub"  # float, int, unsigned, bool: what safetensors holds


def _numeric(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in NUMERIC


def _plain(value: Any) -> Any:
    """``value`` as plain JSON (NumPy scalars and string arrays converted), or raises TypeError."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "US":
        return value.tolist()
    if isinstance(value, np.ndarray) and value.dtype.kind in NUMERIC and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(type(value).__name__)


def pack(arrays: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """(safetensors bytes, manifest): numeric arrays by key (``name``, ``name/0``, ``name/key``), the rest in the
    manifest as ``{"json": value}``, ``{"list": n}``, ``{"dict": [keys]}``, ``{"strings": [...]}``."""
    from safetensors.numpy import save

    tensors: dict[str, np.ndarray] = {}
    manifest: dict[str, Any] = {}
    for name, value in arrays.items():
        if _numeric(value):
            tensors[name] = np.ascontiguousarray(value)
            manifest[name] = {"array": "numeric"}
        elif isinstance(value, np.ndarray) and value.dtype.kind in "US":
            manifest[name] = {"strings": value.tolist()}
        elif isinstance(value, (list, tuple)) and value and all(_numeric(v) for v in value):
            tensors.update({f"{name}/{i}": np.ascontiguousarray(v) for i, v in enumerate(value)})
            manifest[name] = {"list": len(value)}
        elif isinstance(value, dict) and value and all(_numeric(v) for v in value.values()):
            tensors.update({f"{name}/{k}": np.ascontiguousarray(v) for k, v in value.items()})
            manifest[name] = {"dict": [str(k) for k in value]}
        else:
            try:
                manifest[name] = {"json": _plain(value)}
            except TypeError:
                continue  # a model or a file kept for the worker's own use: not part of the stored run
    return (save(tensors) if tensors else b""), manifest


def unpack(blob: bytes, manifest: dict[str, Any]) -> dict[str, Any]:
    """The arrays :func:`pack` stored, in their original order."""
    from safetensors.numpy import load

    tensors = load(blob) if blob else {}
    out: dict[str, Any] = {}
    for name, how in manifest.items():
        if "json" in how:
            out[name] = how["json"]
        elif "strings" in how:
            out[name] = np.asarray(how["strings"], dtype=str)
        elif "list" in how:
            out[name] = [tensors[f"{name}/{i}"] for i in range(how["list"])]
        elif "dict" in how:
            out[name] = {k: tensors[f"{name}/{k}"] for k in how["dict"]}
        else:
            out[name] = tensors[name]
    return out


def storable(arrays: dict[str, Any]) -> dict[str, Any]:
    """Exactly what a stored run gives back for ``arrays`` (models and other worker-only objects left out), so a
    run that has just ended is drawn from the same data as its result link, and nothing else leaves the worker."""
    return unpack(*pack(arrays))
