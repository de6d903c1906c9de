"""Why a query fails and why its rewrite helps: integrated-gradients attributions of a CLIP retriever's
text–image similarity onto the query's words and the image's patches (the paper's Figure 4), for a query and
its rewrite, with the target image's similarity and rank in a gallery.

    from raqo_core.explain import Explainer
    ex = Explainer("embedded", data="embedded", split="test")
    e = ex.explain("a large rose tile left of a cobalt star", image="target", rewrite="a large red square left of a blue star")
    e.save_png("fig.png"); e.to_dict()

``raqo explain`` is the command; ``raqo explain --batch N`` writes a gallery.
"""

from __future__ import annotations

from raqo_core.explain.attribution import (
    DEFAULT_STEPS,
    PatchAttribution,
    TokenAttribution,
    TokenAttributor,
    attribute_image,
    attribute_text,
)
from raqo_core.explain.explainer import Explainer, Explanation, TextSide

__all__ = [
    "DEFAULT_STEPS",
    "Explainer",
    "Explanation",
    "PatchAttribution",
    "TextSide",
    "TokenAttribution",
    "TokenAttributor",
    "attribute_image",
    "attribute_text",
]
