"""RAQO for Haystack.

The components are defined in the ``haystack_integrations`` namespace (deepset's own layout for
integrations), so pipeline YAML naming them loads with Haystack's default deserialization
allowlist — no ``allowed_modules`` or environment flag needed. They are re-exported here::

    from raqo_haystack import RAQOQueryRewriter, OpenCLIPTextEmbedder, OpenCLIPDocumentImageEmbedder
"""

from haystack_integrations.components.embedders.raqo import (
    OpenCLIPDocumentImageEmbedder,
    OpenCLIPTextEmbedder,
)
from haystack_integrations.components.retrievers.raqo import OpenCLIPTextToImageRetriever
from haystack_integrations.components.rewriters.raqo import RAQODocumentRewriter, RAQOQueryRewriter

__all__ = [
    "OpenCLIPDocumentImageEmbedder",
    "OpenCLIPTextEmbedder",
    "OpenCLIPTextToImageRetriever",
    "RAQODocumentRewriter",
    "RAQOQueryRewriter",
]
