"""Runnable examples (repository-only): Haystack pipelines and a LlamaIndex text-to-image index."""
