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


def _upper_rewriter():
    """A rewriter object (any raqo_core QueryRewriter) handed to the components, as QueryExpander takes a generator."""
    from raqo_core.rewriter.base import QueryRewriter
    from raqo_core.rewriter.result import RewriteResult

    class Upper(QueryRewriter):
        fingerprint = "upper"

        def rewrite_batch(self, queries, batch_size=None):
            return [RewriteResult(q, q.upper(), [q.split()[-1]], True, "rewritten", 0.0) for q in queries]

    return Upper()


def test_a_rewriter_object_drives_the_component_and_non_strings_are_type_errors():
    from haystack.core.errors import SerializationError

    node = RAQOQueryRewriter(rewriter=_upper_rewriter())
    out = node.run(query="a crimson orb")
    assert out["query"] == "A CRIMSON ORB" and out["concepts"] == ["orb"] and out["meta"]["rewriter"] == "Upper"
    for bad in (["a", "list"], None, 3):
        with pytest.raises(TypeError, match=f"expects a string query, got {type(bad).__name__}"):
            node.run(query=bad)
    assert node.run(query="")["query"] == "" and node.run(query="")["meta"]["reason"] == "empty query"
    with pytest.raises(SerializationError, match="holds a Upper object"):
        node.to_dict()
    with pytest.raises(ValueError, match=r"settings \['mode'\] apply to a rewriter built by name"):
        RAQOQueryRewriter(rewriter=_upper_rewriter(), mode="direct")


def test_devices_are_component_devices_serialised_the_haystack_way():
    from haystack.utils import ComponentDevice

    node = RAQOQueryRewriter(device=ComponentDevice.from_str("cpu"))
    d = node.to_dict()
    assert d["init_parameters"]["device"] == {"type": "single", "device": "cpu"}
    back = RAQOQueryRewriter.from_dict(d)
    assert back.device == ComponentDevice.from_str("cpu") and back._build().config.device == "cpu"
    old = {**d, "init_parameters": {**d["init_parameters"], "device": "cpu"}}  # a pipeline saved with a device string
    assert RAQOQueryRewriter.from_dict(old).device.to_torch_str() == "cpu"
    assert RAQOQueryRewriter().device == ComponentDevice.resolve_device(None)  # default: the detected device
    e = OpenCLIPTextEmbedder(device=ComponentDevice.from_str("cpu"))
    assert OpenCLIPTextEmbedder.from_dict(e.to_dict()).device == e.device and e.to_dict()["init_parameters"]["device"]["device"] == "cpu"
    with pytest.raises(TypeError, match="must be a haystack ComponentDevice"):
        OpenCLIPTextEmbedder(device=0)


def test_llamaindex_transform_types_and_per_call_results():
    import asyncio
    import threading

    from raqo_llamaindex import RAQOQueryTransform

    t = RAQOQueryTransform(_upper_rewriter())
    with pytest.raises(TypeError, match="expects a query string or a QueryBundle, got NoneType"):
        t.run(None)
    seen = {}

    def call(q):
        t.run(q)
        seen[q] = t.last_result.rewritten_query

    threads = [threading.Thread(target=call, args=(f"query {i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert seen == {f"query {i}": f"QUERY {i}" for i in range(6)} and t.last_result is None  # each thread its own

    async def both():
        async def one(q):
            await t.arun(q)
            await asyncio.sleep(0.01)
            return t.last_result.rewritten_query

        return await asyncio.gather(one("a b"), one("c d"))

    assert asyncio.run(both()) == ["A B", "C D"]


def test_components_attach_word_attributions_when_asked():
    from raqo_core.explain import TokenAttributor
    from raqo_llamaindex import RAQOQueryTransform

    with pytest.raises(ValueError, match="attributions must be a retriever spec such as 'embedded', or None; got ''"):
        RAQOQueryRewriter(attributions="")
    assert "attributions" not in RAQOQueryRewriter(rewriter=_upper_rewriter()).run(query="a crimson orb")["meta"]  # off by default
    node = RAQOQueryRewriter(rewriter=_upper_rewriter(), attributions="embedded")
    meta = node.run(query="a crimson orb")["meta"]["attributions"]
    assert meta["retriever"] == "embedded" and meta["query"]["words"] == ["a", "crimson", "orb"]
    assert meta["rewrite"]["words"] == ["a", "crimson", "orb"]  # the rewrite "A CRIMSON ORB", as CLIP's tokenizer lower-cases it
    assert meta["query"] == TokenAttributor("embedded").text("a crimson orb")  # the same numbers as the core API
    assert sum(meta["query"]["scores"]) > 0  # the words build the text's own embedding (cos 1 vs the blank query)
    assert RAQOQueryRewriter.from_dict(RAQOQueryRewriter(attributions="embedded").to_dict()).attributions == "embedded"
    bad = RAQOQueryRewriter(rewriter=_upper_rewriter(), attributions="onnx:/nowhere")
    out = bad.run(query="a crimson orb")  # a retriever that cannot be loaded: the rewrite survives
    assert out["query"] == "A CRIMSON ORB" and "not a RAQO ONNX export" in out["meta"]["attributions"]["error"]
    t = RAQOQueryTransform(_upper_rewriter(), attributions="embedded")
    md: dict = {}
    t.run("a crimson orb", md)
    assert md["raqo"]["attributions"]["query"] == meta["query"]
