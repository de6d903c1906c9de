"""The exported rewriter on real engines: llama-cpp-python in-process on a real GGUF, and
``python -m llama_cpp.server`` started here on 127.0.0.1, driven through a Haystack pipeline and a
LlamaIndex transform. A server that dies gives the original query with the reason."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from integration_tests._recall import benchmark
from raqo_core.rewriter.adapters import EMBEDDED_HUB_ID
from raqo_core.rewriter.export import EXPORT_META, ExportSource, adapter_digest, export_rewriter
from raqo_core.rewriter.factory import build_rewriter
from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

pytest.importorskip("llama_cpp", reason="the llamacpp extra (make test installs it)")
pytestmark = [pytest.mark.integration, pytest.mark.slow]
N_PARITY = 24


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    return export_rewriter(ExportSource("embedded", "auto", "recot"), out, ["hf", "gguf", "lora"], gguf_types=["f16", "q8_0"])


@pytest.fixture(scope="module")
def val_queries():
    return [r.registers["user"][0] for r in benchmark().split("val")[:N_PARITY]]


@pytest.fixture(scope="module")
def reference(val_queries):
    """The in-process transformers rewrites (the reference engine)."""
    return Rewriter(RewriterConfig(adapter="auto", timeout_s=None, cache_size=0)).load().rewrite_batch(val_queries)


def _key(r):
    return (r.rewritten_query, r.concepts, r.applied)


def test_exports_record_retriever_and_mode_and_travel(exported):
    from raqo_core.rewriter.adapters import EMBEDDED_ADAPTER_DIR
    from raqo_core.rewriter.engines.llamacpp import gguf_metadata

    shipped = json.loads((EMBEDDED_ADAPTER_DIR / "raqo_adapter.json").read_text())
    for fmt in ("hf", "lora"):
        meta = json.loads(Path(exported[fmt], EXPORT_META).read_text())
        assert meta["retriever_fingerprint"] == shipped["retriever_fingerprint"] and meta["mode"] == "recot"
        assert meta["adapter_sha256"] == adapter_digest(EMBEDDED_ADAPTER_DIR)
    lora_cfg = json.loads(Path(exported["lora"], "adapter_config.json").read_text())
    assert lora_cfg["base_model_name_or_path"] == EMBEDDED_HUB_ID  # not this machine's cache path
    for dtype in ("f16", "q8_0"):
        md = gguf_metadata(exported["gguf"][dtype])
        assert md["raqo.retriever_fingerprint"] == shipped["retriever_fingerprint"] and md["raqo.mode"] == "recot"
        assert md["general.file_type"] == {"f16": 1, "q8_0": 7}[dtype]
    assert os.path.getsize(exported["gguf"]["q8_0"]) < 0.6 * os.path.getsize(exported["gguf"]["f16"])


def test_merged_hf_export_loads_as_a_plain_model(exported, val_queries, reference):
    merged = Rewriter(RewriterConfig(model=exported["hf"], timeout_s=None, cache_size=0)).load()
    got = merged.rewrite_batch(val_queries[:8])
    assert [_key(r) for r in got] == [_key(r) for r in reference[:8]]
    assert merged.adapter_meta == {}  # no adapter: the weights are merged


def test_llamacpp_f16_matches_transformers_and_grounds(exported, val_queries, reference):
    rw = Rewriter(RewriterConfig(adapter="auto", timeout_s=None, cache_size=0, backend=f"llamacpp:{exported['gguf']['f16']}")).load()
    got = rw.rewrite_batch(val_queries)
    same = sum(_key(a) == _key(b) for a, b in zip(got, reference, strict=True))
    assert same >= N_PARITY - 3, f"F16 GGUF matched transformers on {same}/{N_PARITY}"
    assert sum(r.applied for r in got) >= 6  # the comparison covers real rewrites, not only "None"
    for r in got:  # the grammar admits only spans of the query
        for c in r.concepts:
            assert c.lower() in r.original_query.lower(), (c, r.original_query)
    assert rw.adapter_meta["mode"] == "recot" and "|llamacpp:1@" in rw.fingerprint
    assert [_key(r) for r in rw.rewrite_batch(val_queries[:6])] == [_key(r) for r in got[:6]]  # cached = fresh
    single = Rewriter(rw.config, generator=rw._backend).rewrite_batch(val_queries[:6], batch_size=1)
    assert [_key(r) for r in single] == [_key(r) for r in got[:6]]  # batch equals single


def test_llamacpp_cut_off_answers_fall_back(exported, val_queries, reference):
    q = next(r.original_query for r in reference if r.applied)  # a query whose answer is a full rewrite
    gguf = exported["gguf"]["q8_0"]
    short = Rewriter(RewriterConfig(adapter="auto", timeout_s=None, max_new_tokens=4, backend=f"llamacpp:{gguf}")).rewrite(q)
    assert (short.applied, short.rewritten_query) == (False, q)
    assert short.reason == "truncated: the answer hit max_new_tokens=4 before it ended"
    late = Rewriter(RewriterConfig(adapter="auto", timeout_s=0.01, backend=f"llamacpp:{gguf}")).load()
    late.rewrite(q)  # the first call pays for the prompt; the limit then cuts the answer off
    r = late.rewrite(q)
    assert (r.applied, r.reason) == (False, "timeout") and not r.cacheable


def test_gguf_from_another_adapter_is_refused(exported):
    from raqo_core.errors import RAQOError
    from raqo_core.rewriter.adapters import EMBEDDED_DIRECT_ADAPTER_DIR

    with pytest.raises(RAQOError, match="was exported from adapter sha256"):
        Rewriter(
            RewriterConfig(adapter=str(EMBEDDED_DIRECT_ADAPTER_DIR), mode="direct", backend=f"llamacpp:{exported['gguf']['q8_0']}")
        ).load()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "llama_cpp_server.log"  # its load log outgrows a pipe
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", exported["gguf"]["q8_0"], "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "2048", "--n_threads", "2", "--model_alias", "raqo-rewriter"]
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if json.loads(r.read())["data"]:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not answer within 120 s")
    yield url, proc
    proc.kill()
    proc.wait(10)
    fh.close()


def test_server_matches_in_process_q8(exported, server, val_queries):
    url, _ = server
    local = Rewriter(RewriterConfig(adapter="auto", timeout_s=None, cache_size=0, backend=f"llamacpp:{exported['gguf']['q8_0']}"))
    remote = Rewriter(RewriterConfig(adapter="auto", timeout_s=30, cache_size=0, backend=f"openai:{url}"))
    a, b = local.rewrite_batch(val_queries[:12]), remote.rewrite_batch(val_queries[:12])
    assert sum(_key(x) == _key(y) for x, y in zip(a, b, strict=True)) >= 11
    assert remote.fingerprint.endswith("|openai:raqo-rewriter")


def test_haystack_pipeline_and_llamaindex_transform_on_the_server(server, val_queries):
    from haystack import Pipeline
    from haystack.dataclasses import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from raqo_haystack import OpenCLIPTextToImageRetriever, RAQOQueryRewriter
    from raqo_llamaindex import RAQOQueryTransform

    url, _ = server
    m = benchmark()
    test = m.split("test")[:50]
    from raqo_haystack import OpenCLIPDocumentImageEmbedder

    docs = OpenCLIPDocumentImageEmbedder(retriever="embedded", progress_bar=False)
    docs.warm_up()
    embedded = docs.run(documents=[Document(meta={"file_path": str(m.image_path(r)), "image_id": r.image_id}) for r in test])["documents"]
    store = InMemoryDocumentStore(embedding_similarity_function="cosine")
    store.write_documents(embedded)
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever

    p = Pipeline()
    p.add_component("rewriter", RAQOQueryRewriter(backend=f"openai:{url}", timeout_s=30))
    p.add_component("retriever", OpenCLIPTextToImageRetriever(retriever=InMemoryEmbeddingRetriever(document_store=store, top_k=5)))
    p.connect("rewriter.query", "retriever.query")
    direct = build_rewriter("raqo", timeout_s=30, backend=f"openai:{url}")  # what the components build: lookup="auto" included
    for q in val_queries[:4]:
        out = p.run({"rewriter": {"query": q}}, include_outputs_from={"rewriter"})
        want = direct.rewrite(q)
        assert out["rewriter"]["query"] == want.rewritten_query and out["rewriter"]["meta"]["reason"] == want.reason
        assert len(out["retriever"]["documents"]) == 5
    t = RAQOQueryTransform(backend=f"openai:{url}", timeout_s=30)
    meta: dict = {}
    bundle = t.run(val_queries[0], metadata=meta)
    assert bundle.query_str == val_queries[0] and bundle.custom_embedding_strs == [direct.rewrite(val_queries[0]).rewritten_query]
    assert meta["raqo"]["reason"] == direct.rewrite(val_queries[0]).reason


def test_a_dead_server_gives_the_query_back(server, val_queries):
    url, proc = server
    rw = Rewriter(RewriterConfig(adapter="auto", timeout_s=5, cache_size=0, backend=f"openai:{url}", engine_retries=1)).load()
    assert rw.rewrite(val_queries[1]).reason != ""  # alive
    proc.kill()
    proc.wait(10)
    r = rw.rewrite(val_queries[1])
    assert (r.applied, r.rewritten_query) == (False, val_queries[1])
    assert r.reason.startswith("error: cannot reach") and url in r.reason
