from haystack_integrations.components.retrievers.raqo.text_to_image_retriever import (
    OpenCLIPTextToImageRetriever,
)

__all__ = ["OpenCLIPTextToImageRetriever"]
