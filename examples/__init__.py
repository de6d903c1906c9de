"""Runnable examples, repository-only (not in the wheel): Haystack pipelines and a LlamaIndex text-to-image index.
Each runs on an installed package too: copy the file and run it, e.g. ``python text_to_image.py``."""
