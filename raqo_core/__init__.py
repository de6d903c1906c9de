"""RAQO core: retriever-adaptive query optimisation for vision-language retrieval.

Importing this package is cheap: torch, open_clip, transformers and onnxruntime are
imported lazily inside the functions that need them.
"""

from raqo_core.errors import RAQOError

__version__ = "0.1.0"
__all__ = ["RAQOError", "__version__"]
