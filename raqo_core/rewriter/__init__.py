"""Query rewriting: the ReCoT rewriter, baselines, the intent guard (heavy imports are lazy)."""

from raqo_core.rewriter.base import QueryRewriter
from raqo_core.rewriter.factory import REWRITERS, build_rewriter
from raqo_core.rewriter.result import RewriteResult
from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

__all__ = ["REWRITERS", "QueryRewriter", "RewriteResult", "Rewriter", "RewriterConfig", "build_rewriter"]
