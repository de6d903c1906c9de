"""Integrated gradients (Captum) of a CLIP retriever's text–image similarity, onto text tokens and image patches.

- **Text**: :class:`captum.attr.LayerIntegratedGradients` on the token-embedding layer of
  ``f(tokens) = cos(text_encoder(tokens), image_embedding)``. The baseline keeps the start and end markers and
  puts the pad token at every word position (Captum's convention for transformer text), so the attributions
  explain ``f(query) − f(blank query)``. Sub-word tokens are summed into words.
- **Image**: :class:`captum.attr.IntegratedGradients` on the preprocessed pixels of
  ``f(pixels) = cos(image_encoder(pixels), text_embedding)`` from a baseline of zeros in normalised space (the
  dataset-mean colour), summed over channels and over each ViT patch.

Completeness (IG's axiom) holds up to the Riemann-sum error: ``sum(attributions) ≈ f(input) − f(baseline)``; the
gap is returned as ``delta`` (``tests/test_explain.py`` bounds it at the default step count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError

DEFAULT_STEPS = 64


def _captum() -> Any:
    try:
        import captum.attr
    except ImportError as exc:
        from raqo_core.extras import install_hint

        raise RAQOError(f"explanations need Captum ({exc}); {install_hint('captum')}") from None
    return captum.attr


@dataclass
class TokenAttribution:
    """Per-word attributions of one text against one image."""

    text: str
    words: list[str]
    scores: list[float]  # signed: how much each word raised the similarity above the blank-query baseline
    similarity: float  # f(text)
    baseline_similarity: float  # f(blank text)
    delta: float  # sum(scores) − (similarity − baseline_similarity): IG's completeness gap
    truncated: bool = False  # words past the retriever's text context were dropped (and get no score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "words": self.words,
            "scores": [round(s, 6) for s in self.scores],
            "similarity": round(self.similarity, 6),
            "baseline_similarity": round(self.baseline_similarity, 6),
            "completeness_delta": round(self.delta, 6),
            "truncated": self.truncated,
        }


@dataclass
class PatchAttribution:
    """Per-patch attributions of one image against one text (a ``rows × cols`` grid of ViT patches)."""

    grid: np.ndarray
    similarity: float
    baseline_similarity: float
    delta: float
    pixels: np.ndarray = field(repr=False)  # the preprocessed image, un-normalised to [0, 1], HWC (for display)

    def to_dict(self) -> dict[str, Any]:
        return {
            "patch_grid": np.round(self.grid.astype(np.float64), 6).tolist(),
            "similarity": round(self.similarity, 6),
            "baseline_similarity": round(self.baseline_similarity, 6),
            "completeness_delta": round(self.delta, 6),
        }


def torch_model(retriever: Any) -> Any:
    """The retriever's open_clip torch model, or a clear error (an ONNX export has no gradients)."""
    model = getattr(retriever, "model", None)
    if model is None or not hasattr(model, "encode_text") or not hasattr(model, "encode_image"):
        spec = getattr(retriever, "spec", type(retriever).__name__)
        raise RAQOError(
            f"explanations need the retriever's torch model (open_clip); {spec!r} has none "
            "(an ONNX export cannot be differentiated): pass the open_clip spec it was exported from, e.g. 'embedded'"
        )
    return model


def _token_layer(model: Any) -> Any:
    for owner in (model, getattr(model, "text", None)):
        layer = getattr(owner, "token_embedding", None)
        if layer is not None:
            return layer
    raise RAQOError(f"cannot find the token-embedding layer of {type(model).__name__}; expected an open_clip CLIP text tower")


def _words(retriever: Any, ids: list[int]) -> tuple[list[str], list[list[int]]]:
    """Words and, for each, its token positions (1-based: position 0 is the start marker)."""
    tok = retriever.tokenizer
    decoder = getattr(tok, "decoder", None)
    words: list[str] = []
    spans: list[list[int]] = []
    cur: list[int] = []
    piece = ""
    for pos, i in enumerate(ids, start=1):
        s = decoder[i] if decoder is not None else str(tok.tokenizer.convert_ids_to_tokens(int(i)))
        cur.append(pos)
        if decoder is None or s.endswith("</w>"):
            words.append((piece + s).replace("</w>", ""))
            spans.append(cur)
            cur, piece = [], ""
        else:
            piece += s
    if cur:
        words.append(piece)
        spans.append(cur)
    return words, spans


def _text_ids(retriever: Any, text: str) -> tuple[Any, list[int], bool]:
    import torch

    tokens = retriever.tokenizer([text])  # [1, context]
    row = tokens[0].tolist()
    try:
        end = row.index(getattr(retriever.tokenizer, "eot_token_id", 49407))
    except ValueError:
        end = len(row)
    content = row[1:end]
    truncated = retriever.count_tokens(text) > retriever.context_length
    return torch.as_tensor(tokens), content, truncated


def attribute_text(
    retriever: Any, text: str, image_embedding: np.ndarray, *, steps: int = DEFAULT_STEPS, pad_id: int = 0
) -> TokenAttribution:
    """Word attributions of ``cos(text, image)``; ``image_embedding`` is the image's (normalised) embedding."""
    import torch

    if not isinstance(text, str) or not text.strip():
        raise RAQOError(f"the text to explain is empty ({text!r}); expected a query with at least one word")
    if steps < 2:
        raise RAQOError(f"steps must be >= 2, got {steps}")
    model = torch_model(retriever)
    device = retriever.device
    ids, content, truncated = _text_ids(retriever, text)
    ids = ids.to(device)
    baseline = ids.clone()
    baseline[0, 1 : 1 + len(content)] = pad_id
    img = torch.as_tensor(np.asarray(image_embedding, dtype=np.float32), device=device).view(1, -1)

    def f(tokens: Any) -> Any:
        return (model.encode_text(tokens, normalize=True) * img).sum(-1)

    lig = _captum().LayerIntegratedGradients(f, _token_layer(model))
    with torch.enable_grad():
        attr, delta = lig.attribute(ids, baselines=baseline, n_steps=steps, return_convergence_delta=True)
        with torch.no_grad():
            sim, base = float(f(ids)), float(f(baseline))
    per_token = attr.sum(-1)[0].detach().float().cpu().numpy()
    words, spans = _words(retriever, content)
    # the markers and the padding are the same in input and baseline, so all attribution falls on the words
    scores = [float(sum(per_token[p] for p in span)) for span in spans]
    return TokenAttribution(text, words, scores, sim, base, float(delta[0]), truncated)


def attribute_image(
    retriever: Any, image: Any, text_embedding: np.ndarray, *, steps: int = DEFAULT_STEPS, internal_batch_size: int = 16
) -> PatchAttribution:
    """Patch attributions of ``cos(image, text)``; ``image`` is anything the retriever encodes (a path, a PIL image)."""
    import torch

    model = torch_model(retriever)
    device = retriever.device
    pix = retriever._pixel(image, 0).unsqueeze(0).to(device)
    txt = torch.as_tensor(np.asarray(text_embedding, dtype=np.float32), device=device).view(1, -1)

    def f(p: Any) -> Any:
        return (model.encode_image(p, normalize=True) * txt).sum(-1)

    ig = _captum().IntegratedGradients(f)
    base_pix = torch.zeros_like(pix)
    with torch.enable_grad():
        attr, delta = ig.attribute(
            pix, baselines=base_pix, n_steps=steps, return_convergence_delta=True, internal_batch_size=internal_batch_size
        )
        with torch.no_grad():
            sim, base = float(f(pix)), float(f(base_pix))
    a = attr[0].sum(0).detach().float().cpu().numpy()  # H × W
    ps = getattr(model.visual, "patch_size", None)
    ph, pw = (ps if isinstance(ps, tuple) else (ps, ps)) if ps else (max(1, a.shape[0] // 8), max(1, a.shape[1] // 8))
    rows, cols = a.shape[0] // ph, a.shape[1] // pw
    grid = a[: rows * ph, : cols * pw].reshape(rows, ph, cols, pw).sum(axis=(1, 3))
    mean, std = _normalisation(retriever)
    shown = np.clip(pix[0].detach().float().cpu().numpy().transpose(1, 2, 0) * std + mean, 0.0, 1.0)
    return PatchAttribution(grid, sim, base, float(delta[0]), shown)


def _normalisation(retriever: Any) -> tuple[np.ndarray, np.ndarray]:
    """The mean/std of the retriever's preprocessing (to show the image it saw); CLIP's when it has none."""
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    for t in getattr(retriever.preprocess, "transforms", []):
        if type(t).__name__ == "Normalize":
            mean, std = t.mean, t.std
    return np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)


class TokenAttributor:
    """Word attributions for a rewrite decision, as the framework components attach them to ``meta``.

    With no image to hand, each text is attributed against its own embedding — ``f(x) = cos(E(x), E(text))``
    from the blank-query baseline: which words make up what the retriever encodes. ``retriever``: a spec
    (``embedded``, ``open_clip:ViT-B-32/openai`` …) or a loaded open_clip retriever; it is loaded on first use."""

    def __init__(self, retriever: Any = "embedded", *, steps: int = 32) -> None:
        if steps < 2:
            raise RAQOError(f"steps must be >= 2, got {steps}")
        self._spec = retriever
        self._retriever: Any = None if isinstance(retriever, str) else retriever
        self.steps = steps
        if self._retriever is not None:
            torch_model(self._retriever)

    @property
    def spec(self) -> str:
        return self._spec if isinstance(self._spec, str) else str(getattr(self._spec, "spec", type(self._spec).__name__))

    def load(self) -> Any:
        if self._retriever is None:
            from raqo_core.retriever.registry import shared_retriever

            r = shared_retriever(self._spec)
            torch_model(r)
            self._retriever = r
        return self._retriever

    def text(self, text: str) -> dict[str, Any]:
        r = self.load()
        a = attribute_text(r, text, r.encode_texts([text])[0], steps=self.steps)
        return {"words": a.words, "scores": [round(x, 6) for x in a.scores]}

    def for_result(self, res: Any) -> dict[str, Any]:
        """For a rewrite decision (a ``RewriteResult``): ``{"query": {words, scores}, "rewrite": {…} or None,
        "retriever": spec, "target": "own embedding"}``; ``{"error": …}`` instead of raising, so an explanation
        never costs the rewrite."""
        query, rewrite = res.original_query, res.rewritten_query if res.applied else None
        try:
            return {
                "retriever": self.spec,
                "target": "own embedding",
                "query": self.text(query),
                "rewrite": self.text(rewrite) if rewrite and rewrite != query else None,
            }
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}
