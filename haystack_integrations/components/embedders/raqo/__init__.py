from haystack_integrations.components.embedders.raqo.embedders import (
    OpenCLIPDocumentImageEmbedder,
    OpenCLIPTextEmbedder,
)

__all__ = ["OpenCLIPDocumentImageEmbedder", "OpenCLIPTextEmbedder"]
