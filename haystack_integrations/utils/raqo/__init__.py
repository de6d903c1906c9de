"""Helpers the RAQO Haystack components share."""

from haystack_integrations.utils.raqo.device import device_from_init, resolve_device

__all__ = ["device_from_init", "resolve_device"]
