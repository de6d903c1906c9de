"""Haystack components: construction, validation, serialisation and fallback (no model loads)."""

from __future__ import annotations

import pytest
from haystack import Document

from raqo_haystack import (
    OpenCLIPDocumentImageEmbedder,
    OpenCLIPTextEmbedder,
    RAQODocumentRewriter,
    RAQOQueryRewriter,
)


def test_query_rewriter_validates_at_init():
    with pytest.raises(ValueError, match="unknown rewrite mode 'fancy'"):
        RAQOQueryRewriter(mode="fancy")
    with pytest.raises(ValueError, match="unknown rewriter 'gpt'"):
        RAQOQueryRewriter(rewriter="gpt")
    with pytest.raises(ValueError, match="guard_threshold must be in"):
        RAQOQueryRewriter(guard_threshold=7)
    with pytest.raises(ValueError, match="takes no adapter"):
        RAQOQueryRewriter(rewriter="wordnet", adapter="x")
    with pytest.raises(TypeError):
        RAQOQueryRewriter("embedded")  # keyword-only


def test_to_from_dict_round_trip():
    c = RAQOQueryRewriter(model="embedded", mode="detect", include_original_query=True, guard_threshold=0.4, grounded_concepts=False)
    d = c.to_dict()
    assert d["type"] == "haystack_integrations.components.rewriters.raqo.query_rewriter.RAQOQueryRewriter"
    assert d["init_parameters"]["grounded_concepts"] is False
    back = RAQOQueryRewriter.from_dict(d)
    assert back.to_dict() == d and back._build().config.grounded_concepts is False
    s = RAQOQueryRewriter(backend="openai:http://127.0.0.1:8080/v1", engine_model="raqo")
    sd = s.to_dict()["init_parameters"]
    assert sd["backend"] == "openai:http://127.0.0.1:8080/v1" and sd["engine_model"] == "raqo"
    assert sd["api_key"] == {"type": "env_var", "env_vars": ["OPENAI_API_KEY"], "strict": False}  # a reference, never a value
    assert RAQOQueryRewriter.from_dict(s.to_dict()).to_dict() == s.to_dict()
    e = OpenCLIPDocumentImageEmbedder(retriever="onnx:/models/clip", root_path="/data", batch_size=4)
    assert OpenCLIPDocumentImageEmbedder.from_dict(e.to_dict()).to_dict() == e.to_dict()
    t = OpenCLIPTextEmbedder(prefix="a photo of ")
    assert OpenCLIPTextEmbedder.from_dict(t.to_dict()).prefix == "a photo of "
    r = RAQODocumentRewriter(rewriter="wordnet", batch_size=3)
    assert RAQODocumentRewriter.from_dict(r.to_dict()).to_dict() == r.to_dict()


def test_failure_returns_original_query(tmp_path):
    node = RAQOQueryRewriter(model=str(tmp_path / "no-such-model"))  # load fails at warm_up
    out = node.run(query="a crimson orb")
    assert out["query"] == "a crimson orb" and out["queries"] == ["a crimson orb"] and out["concepts"] == []
    assert out["meta"]["applied"] is False and out["meta"]["reason"].startswith("error: RAQOError")
    assert node.run(query="   ")["meta"]["reason"] == "empty query"


def test_wordnet_node_and_include_original():
    node = RAQOQueryRewriter(rewriter="wordnet", include_original_query=True)
    out = node.run(query="a crimson orb")
    assert out["meta"]["applied"] and out["query"].startswith("a crimson orb (")
    assert out["queries"] == [out["query"], "a crimson orb"]


def test_document_rewriter_keeps_originals():
    docs = [Document(content="a crimson orb"), Document(content="")]
    out = RAQODocumentRewriter(rewriter="wordnet", progress_bar=False).run(documents=docs)["documents"]
    assert out[0].meta["raqo_original_content"] == "a crimson orb" and out[0].content != "a crimson orb"
    assert out[1].content == "" and out[1].meta["raqo"]["reason"] == "empty query"


def test_image_embedder_requires_file_path():
    with pytest.raises(ValueError, match=r"has no meta\['file_path'\]"):
        OpenCLIPDocumentImageEmbedder(retriever="open_clip:RAQO-Tiny-64").run(documents=[Document(content="x")])
