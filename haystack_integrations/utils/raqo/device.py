"""Devices the Haystack way: components take a ``ComponentDevice`` (default: the one Haystack detects) and
serialise it with ``to_dict``; pipelines saved with a plain device string still load."""

from __future__ import annotations

from typing import Any

from haystack.utils import ComponentDevice


def resolve_device(device: ComponentDevice | str | None) -> ComponentDevice:
    """``None``: the detected device (a GPU when torch sees one); a string such as ``"cpu"`` or ``"cuda:0"`` is
    accepted too."""
    if isinstance(device, str):
        return ComponentDevice.from_str(device)
    if device is not None and not isinstance(device, ComponentDevice):
        raise TypeError(f"device must be a haystack ComponentDevice (or a string such as 'cpu'), got {type(device).__name__}")
    return ComponentDevice.resolve_device(device)


def device_from_init(params: dict[str, Any]) -> None:
    """In ``from_dict``: turn a serialised ``device`` back into a ``ComponentDevice``, in place."""
    d = params.get("device")
    if isinstance(d, dict):
        params["device"] = ComponentDevice.from_dict(d)
    elif isinstance(d, str):
        params["device"] = ComponentDevice.from_str(d)
