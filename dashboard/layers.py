"""The channel layer a process-wide hub uses to reach the other processes."""

from __future__ import annotations

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, channel_layers
from django.conf import settings


def private_layer() -> BaseChannelLayer | None:
    """A layer of its own (its receive loop never contends with the consumers' channels), or None
    when there is nothing to reach: no layer, or the in-memory one, which stays in this process."""
    if DEFAULT_CHANNEL_LAYER not in settings.CHANNEL_LAYERS:
        return None
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    return None if isinstance(layer, InMemoryChannelLayer) else layer
