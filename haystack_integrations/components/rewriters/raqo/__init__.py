from haystack_integrations.components.rewriters.raqo.document_rewriter import RAQODocumentRewriter
from haystack_integrations.components.rewriters.raqo.query_rewriter import RAQOQueryRewriter

__all__ = ["RAQODocumentRewriter", "RAQOQueryRewriter"]
