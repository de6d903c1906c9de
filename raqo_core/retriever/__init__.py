"""Vision-language retrievers: the :class:`Retriever` protocol and the spec registry (backends load lazily)."""

from raqo_core.retriever.base import Retriever, check_dim
from raqo_core.retriever.registry import load_retriever, register_retriever, retriever_prefixes, shared_retriever

__all__ = ["Retriever", "check_dim", "load_retriever", "register_retriever", "retriever_prefixes", "shared_retriever"]
