"""RAQO for LlamaIndex: a query transform, a text→image retriever wrapper and an OpenCLIP
multimodal embedding (torch or ONNX Runtime), with Qdrant-backed image indexes."""

from raqo_llamaindex.embedding import OpenCLIPEmbedding
from raqo_llamaindex.index import build_image_index, open_image_index, qdrant_client
from raqo_llamaindex.retriever import RAQOTextToImageRetriever
from raqo_llamaindex.transform import RAQOQueryTransform

__all__ = ["OpenCLIPEmbedding", "RAQOQueryTransform", "RAQOTextToImageRetriever", "build_image_index", "open_image_index", "qdrant_client"]
