"""MPADE agents: the chat agent against a real local HTTP server; the offline agent's edits."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from raqo_core.errors import RAQOError
from raqo_core.mpade.agents import AgentRequest, ChatMLLMAgent, OfflineAgent
from raqo_core.mpade.assessment import AMBIGUOUS, MIDDLE, UNAMBIGUOUS, QueryItem, count_labels, label
from raqo_core.text import caption_vocabulary


class Script:
    """Per-request behaviours, consumed in order; records what the server saw."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.seen = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0


@pytest.fixture
def server():
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with script.lock:
                script.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                step = script.steps.pop(0) if script.steps else "ok"
                script.active += 1
                script.max_active = max(script.max_active, script.active)
            try:
                if step == "slow":
                    time.sleep(1.5)
                    step = "ok"
                if step == "hold":  # long enough that four workers overlap even on a loaded machine
                    time.sleep(0.6)
                    step = "ok"
                if step == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                elif step == "500":
                    self.send_response(500)
                    self.end_headers()
                elif step == "400":
                    self.send_response(400)
                    self.end_headers()
                else:
                    content = (
                        "not json at all"
                        if step == "garbage"
                        else json.dumps({"concepts": ["crimson"], "rewrites": ["a red circle", "a red disk"]})
                    )
                    out = json.dumps(
                        {"choices": [{"message": {"content": content}}], "usage": {"prompt_tokens": 100, "completion_tokens": 20}}
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
            finally:
                with script.lock:
                    script.active -= 1

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1", script
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def request_(tmp_path):
    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "gt.png")
    Image.new("RGB", (8, 8), (0, 0, 200)).save(tmp_path / "c1.png")
    return AgentRequest("a crimson orb", tmp_path / "gt.png", [tmp_path / "c1.png"], [("a crimson ball", 40)], 1)


def test_thresholds_on_a_rank_table():
    ranks = [0, 4, 5, 9, 10, 200]
    assert [label(r) for r in ranks] == [UNAMBIGUOUS, UNAMBIGUOUS, MIDDLE, MIDDLE, AMBIGUOUS, AMBIGUOUS]
    assert [label(r, 2, 6) for r in ranks] == [UNAMBIGUOUS, MIDDLE, MIDDLE, AMBIGUOUS, AMBIGUOUS, AMBIGUOUS]
    items = [QueryItem(i, "q", 0, r) for i, r in enumerate(ranks)]
    assert count_labels(items, 5, 10) == {UNAMBIGUOUS: 2, AMBIGUOUS: 2, MIDDLE: 2}


def test_chat_agent_success_payload_and_tokens(server, request_, monkeypatch):
    url, script = server
    monkeypatch.setenv("MY_KEY", "sk-test")
    agent = ChatMLLMAgent(url, "llava", api_key_env="MY_KEY", backoff_s=0.01)
    [p] = agent.propose_batch([request_])
    assert p.error is None and p.concepts == ["crimson"] and p.rewrites == ["a red circle", "a red disk"]
    seen = script.seen[0]
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer sk-test"
    content = seen["body"]["messages"][1]["content"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,") and len(content) == 3  # text + GT + 1 candidate
    assert "a crimson ball (rank 40)" in content[0]["text"]  # failed proposals are fed back
    assert agent.usage["prompt_tokens"] == 100 and agent.usage["completion_tokens"] == 20


@pytest.mark.parametrize(
    ("steps", "ok", "retries", "error"),
    [
        (["429", "ok"], True, 1, None),
        (["500", "500", "ok"], True, 2, None),
        (["garbage", "ok"], True, 1, None),
        (["500", "500", "500", "500"], False, 3, "HTTP 500"),
        (["garbage"] * 4, False, 3, "malformed answer"),
        (["400"], False, 0, "HTTP 400"),
        (["slow", "slow", "slow", "slow"], False, 3, "timed out waiting for"),
    ],
)
def test_chat_agent_failures_are_retried_then_recorded(server, request_, steps, ok, retries, error):
    url, script = server
    script.steps = steps
    agent = ChatMLLMAgent(url, "m", backoff_s=0.01, timeout_s=0.5, max_retries=3)
    [p] = agent.propose_batch([request_])
    assert (p.error is None) == ok and agent.usage["retries"] == retries
    if error:
        assert error in p.error and p.rewrites == [] and agent.usage["failures"] == 1


def test_chat_agent_endpoint_down_and_concurrency(server, request_):
    down = ChatMLLMAgent("http://127.0.0.1:9/v1", "m", backoff_s=0.01, max_retries=1)
    [p] = down.propose_batch([request_])
    assert p.error.startswith("cannot reach http://127.0.0.1:9/v1/chat/completions")
    url, script = server
    script.steps = ["hold"] * 8
    agent = ChatMLLMAgent(url, "m", concurrency=4)
    res = agent.propose_batch([request_] * 8)
    # concurrency is measured on the server (requests in flight at once), not by the wall clock,
    # which made this test flaky on a loaded 2-core machine
    assert all(r.error is None for r in res) and script.max_active == 4
    with pytest.raises(RAQOError, match="base_url must be an http"):
        ChatMLLMAgent("localhost:8000", "m")


def test_chat_answer_parsing():
    assert ChatMLLMAgent.parse_answer('```json\n{"concepts": [], "rewrites": ["x"]}\n```') == ([], ["x"])
    with pytest.raises(ValueError, match="no JSON object"):
        ChatMLLMAgent.parse_answer("sorry")


def test_offline_agent_edits(random_retriever):
    vocab = Counter({"red": 9, "circle": 9, "blue": 9, "square": 9, "left": 9, "of": 9, "a": 9})
    agent = OfflineAgent(random_retriever, vocab, use_wordnet=False, neighbours=2, neighbour_margin=1.0)
    assert set(agent.substitutes("crimson")) <= set(vocab) and len(agent.substitutes("crimson")) == 2
    edits = agent._edits(["show", "me", "a", "crimson", "orb"])
    texts = {" ".join(w) for w, _ in edits}
    assert "me a crimson orb" in texts and "a crimson orb" in texts  # deletion and framing-span deletion
    assert any(t.startswith("show me a ") and t.split()[3] in vocab for t in texts)  # substitution from vocab
    req = AgentRequest(
        "show me a crimson orb",
        None,
        [],
        gt_embedding=random_retriever.encode_texts(["a red circle"])[0],
        candidate_embeddings=random_retriever.encode_texts(["a blue square"]),
    )
    p = agent.propose(req)
    assert p.rewrites and all(r != "show me a crimson orb" for r in p.rewrites) and p.concepts
    again = agent.propose(req)
    assert (again.rewrites, again.concepts) == (p.rewrites, p.concepts)  # deterministic
    with pytest.raises(RAQOError, match="non-empty training-caption vocabulary"):
        OfflineAgent(random_retriever, Counter())


def test_offline_agent_edits_only_weak_words(random_retriever):
    captions = ["a red circle left of a blue square"] * 50 + ["a crimson circle left of a blue square"] * 2
    captions += ["a red square above a blue circle"] * 50
    vocab = caption_vocabulary(captions, min_count=1)
    agent = OfflineAgent(random_retriever, vocab, use_wordnet=False, neighbours=3, neighbour_margin=1.0, captions=captions)
    # "crimson" was seen 2 times against ~100 for the colour words: weak; "red" is strong
    assert agent.is_weak("crimson") and not agent.is_weak("red") and not agent.is_weak("a")
    assert agent.is_weak("orb")  # never seen at all
    # slot similarity: crimson fills the colour slot (left "a", right "circle") like red and blue
    assert agent.slot_similarity("crimson", "red") > 0.8
    assert agent.slot_similarity("crimson", "left") < 0.3
    assert agent.slot_similarity("crimson", "unseen-word") == 0.0
    subs = agent.substitutes("crimson")
    assert subs and set(subs) <= {"red", "blue"}  # the colour slot only, never "left"/"circle"
    edits = agent._edits(["show", "me", "a", "crimson", "circle", "left", "of", "a", "blue", "square"])
    touched = {c for _, c in edits}
    assert "crimson" in touched and "show me" in touched and "show me a" in touched  # weak word, framing span
    assert not touched & {"circle", "left", "blue", "square"}  # strong words are never edited
    texts = {" ".join(w) for w, _ in edits}
    assert "show me a circle left of a blue square" not in texts  # a known-but-rare word is replaced, not deleted
    assert "me a crimson circle left of a blue square" in texts  # an unknown word may go
    with pytest.raises(RAQOError, match="weak_fraction must be in"):
        OfflineAgent(random_retriever, vocab, weak_fraction=1.5)


def test_clean_concepts_reading_order():
    from raqo_core.mpade.outputs import clean_concepts

    got = clean_concepts(["orb", "show me", "crimson"], max_concepts=3, query="show me a crimson orb")
    assert got == ["show me", "crimson", "orb"]
    assert clean_concepts(["orb", "show me", "crimson"], max_concepts=2, query="show me a crimson orb") == ["show me", "orb"]


def test_clean_concepts():
    from raqo_core.mpade.outputs import clean_concepts

    raw = ["i'm looking for a picture showing", "a photo where there is a large filled", "the", "crimson", "crimson", "orb", "west"]
    assert clean_concepts(raw) == ["i'm looking for a picture showing", "crimson", "orb"]
    assert clean_concepts(raw, max_concepts=5, max_words=1) == ["crimson", "orb", "west"]


def test_edited_spans_names_exactly_what_the_rewrite_changes():
    from raqo_core.mpade.outputs import edited_spans

    q = "Can you find me an image of a small opaque lilac circle left of a crimson orb, I think"
    r = "small solid purple circle left of a red circle"
    # a deleted run is one span (articles trimmed, the query's own case kept); each substituted
    # word is its own; the trailing framing goes, "orb" is substituted (a gap at either end is free)
    assert edited_spans(q, r) == ["Can you find me an image of", "opaque", "lilac", "crimson", "orb", "I think"]
    assert edited_spans(q, r, max_words=3) == ["opaque", "lilac", "crimson", "orb", "I think"]
    assert edited_spans("a red circle", "a red circle") == []
    assert edited_spans("a red circle", "a red circle on the left") == []  # insertions name nothing
    assert edited_spans("the orb above the orb", "the circle above the circle") == ["orb"]  # de-duplicated


def test_align_words_keeps_a_deleted_phrase_whole():
    from raqo_core.mpade.outputs import align_words

    a = ["i'm", "looking", "for", "a", "picture", "showing", "a", "huge", "hollow", "star"]
    cols = align_words(a, ["a", "large", "hollow", "star"])
    assert [op for op, _, _ in cols] == ["D"] * 6 + ["M", "S", "M", "M"]
    assert cols[7] == ("S", 7, 1)
    assert [op for op, _, _ in align_words(["a", "b"], ["a", "x", "y", "b"])] == ["M", "I", "I", "M"]
    assert align_words([], []) == []


def test_edited_spans_are_grounded_concept_lines():
    from raqo_core.rewriter.grounding import concept_line_fits
    from raqo_core.rewriter.prompt import CONCEPT_SEP

    q = "i'm looking for a picture showing a huge hollow jet pyramid on top of a small solid green disk"
    from raqo_core.mpade.outputs import edited_spans

    spans = edited_spans(q, "a large hollow black triangle on top of a small solid green circle")
    assert spans == ["i'm looking for a picture showing", "huge", "jet", "pyramid", "disk"]
    assert concept_line_fits(" " + CONCEPT_SEP.join(spans) + "\n", q)


def test_changed_concepts_drop_what_the_rewrite_keeps():
    from raqo_core.mpade.outputs import changed_concepts

    q = "show me a crimson orb left of a Blue square"
    got = changed_concepts(q, "a red circle left of a blue square", ["show me", "crimson", "Blue", "orb left", "square"])
    assert got == ["show me", "crimson", "orb left"]  # deleted, substituted, and a span with one edited word
    assert changed_concepts(q, q, ["crimson", "orb"]) == []  # an unchanged query names nothing


def test_changed_concept_lines_in_the_training_sets(tmp_path):
    from raqo_core.io import read_jsonl
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.outputs import build_outputs

    recs = _mined_records()
    recs[0]["concepts"] = ["crimson", "blue"]  # the agent named a word its best rewrite keeps
    build_outputs(tmp_path, recs, [], MPADEConfig(concepts="changed", perturb=False), similarity=_SameMeaning())
    assert read_jsonl(tmp_path / "D_QRE.jsonl")[0]["concepts"] == ["crimson"]
    ccr = read_jsonl(tmp_path / "D_CCR.jsonl")
    assert ccr[0]["concepts"] == ["crimson"] and all(x["source"] != "perturbation" for x in ccr)  # perturb=False


def test_mpade_config_concept_source_is_validated():
    from raqo_core.mpade.config import MPADEConfig

    with pytest.raises(RAQOError, match="concepts must be one of 'agent', 'edits', 'changed'; got 'diff'"):
        MPADEConfig(concepts="diff").validate()
    with pytest.raises(RAQOError, match="max_concepts and max_concept_words must be >= 1, got 0 and 6"):
        MPADEConfig(max_concepts=0).validate()


@pytest.mark.parametrize("ratio", [-0.5, float("nan"), float("inf")])
def test_mpade_config_rejects_a_bad_perturb_ratio(ratio):
    from raqo_core.mpade.config import MPADEConfig

    with pytest.raises(RAQOError, match=rf"perturb_ratio must be a finite number >= 0 or None, got {ratio!r}"):
        MPADEConfig(perturb_ratio=ratio).validate()


@pytest.mark.parametrize("words", ["cerulean", ["cerulean", " "], ["cube", 3]])
def test_mpade_config_rejects_a_bad_perturb_exclude(words):
    from raqo_core.mpade.config import MPADEConfig

    with pytest.raises(RAQOError, match="perturb_exclude must be a list of non-empty words, got"):
        MPADEConfig(perturb_exclude=words).validate()


def test_sample_none_prefers_rank_one_hits():
    from raqo_core.mpade.outputs import sample_none

    recs = [{"i": i, "query": f"q{i}", "rank": i % 3} for i in range(30)]
    got = sample_none(recs, 8, seed=0)
    assert len(got) == 8 and all(r["rank"] == 0 for r in got)  # 10 rank-0 hits exist
    assert [r["i"] for r in got] == sorted(r["i"] for r in got)
    more = sample_none(recs, 15, seed=0)  # more than the hits: topped up with the rest
    assert len(more) == 15 and sum(r["rank"] == 0 for r in more) == 10
    assert sample_none(recs, 8, seed=0) == got  # seeded


class _SameMeaning:
    """Text similarity stub for output-building tests: every pair passes the filter."""

    def pairwise(self, a, b):
        return [1.0] * len(a)


def _mined_records():
    amb = {
        "i": 0,
        "kind": "ambiguous",
        "query": "show me a crimson orb left of a blue square",
        "rank": 40,
        "concepts": ["crimson"],
        "candidates": [
            {"text": "red circle left of a blue square", "score": 0.9},
            {"text": "a red orb left of a blue square", "score": 0.8},
        ],
        "accepted_per_round": [2],
    }
    unamb = {
        "i": 1,
        "kind": "unambiguous",
        "query": "a red circle left of a blue square",
        "rank": 0,
        "score": 0.95,
        "perturbation": {"query": "a vermilion circle left of a blue square", "concepts": ["vermilion"], "drop": 0.05},
    }
    return [amb, unamb]


@pytest.mark.parametrize("perturb_qre", [True, False])
def test_perturbations_teach_detection_and_optionally_rewriting(tmp_path, perturb_qre):
    from raqo_core.io import read_jsonl
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.outputs import build_outputs

    cfg = MPADEConfig(perturb_qre=perturb_qre, concepts="edits", none_ratio=0.5)
    stats = build_outputs(tmp_path, _mined_records(), [], cfg, similarity=_SameMeaning())
    ccr, qre = read_jsonl(tmp_path / "D_CCR.jsonl"), read_jsonl(tmp_path / "D_QRE.jsonl")
    assert [(x["source"], x["concepts"]) for x in ccr] == [
        ("ambiguous", ["show me", "crimson", "orb"]),
        ("perturbation", ["vermilion"]),
        ("unambiguous", []),
    ]
    restore = {
        "query": "a vermilion circle left of a blue square",
        "concepts": ["vermilion"],
        "rewrite": "a red circle left of a blue square",
        "score": 0.95,
    }
    assert (restore in qre) is perturb_qre
    assert qre[0]["concepts"] == ["show me", "crimson", "orb"] and stats["counts"]["D_QRE"] == len(qre) == 1 + perturb_qre


def _perturbed(n):
    amb = [{"i": i, "kind": "ambiguous", "query": f"q{i}", "concepts": ["x"] if i % 2 == 0 else []} for i in range(8)]
    words = ["Vermilion", "sapphire", "orb", "lazuline", "gamboge"]
    unamb = [
        {"i": 100 + i, "kind": "unambiguous", "query": f"u{i}", "perturbation": {"query": f"p{i}", "concepts": [words[i % 5]]}}
        for i in range(n)
    ] + [{"i": 999, "kind": "unambiguous", "query": "no perturbation"}]
    return amb, unamb


def test_select_perturbations_excludes_words_and_caps_per_ambiguous_query():
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.outputs import select_perturbations

    amb, unamb = _perturbed(20)
    everything = select_perturbations(amb, unamb, MPADEConfig())
    assert [r["i"] for r in everything] == list(range(100, 120))
    # exclusion is case-insensitive on the introduced word: "Vermilion" (i % 5 == 0) and "orb" (i % 5 == 2) go
    kept = select_perturbations(amb, unamb, MPADEConfig(perturb_exclude=["vermilion", "ORB "]))
    assert [r["i"] - 100 for r in kept] == [i for i in range(20) if i % 5 not in (0, 2)]
    # 8 ambiguous queries: ratio 0.75 keeps round(6.0) = 6, a seeded sample in record order
    capped = select_perturbations(amb, unamb, MPADEConfig(perturb_ratio=0.75, perturb_exclude=["vermilion"]))
    assert len(capped) == 6 and all(r["perturbation"]["concepts"] != ["Vermilion"] for r in capped)
    assert [r["i"] for r in capped] == sorted(r["i"] for r in capped)
    assert select_perturbations(amb, unamb, MPADEConfig(perturb_ratio=0.75, perturb_exclude=["vermilion"])) == capped
    assert select_perturbations(amb, unamb, MPADEConfig(perturb_ratio=0.75, perturb_exclude=["vermilion"], seed=1)) != capped
    assert select_perturbations(amb, unamb, MPADEConfig(perturb_ratio=0.0)) == []
    assert select_perturbations(amb, unamb, MPADEConfig(perturb=False)) == []  # relabelled with perturbations off
    assert len(select_perturbations(amb, unamb, MPADEConfig(perturb_ratio=100.0))) == 20  # a cap above the supply keeps all


def test_capped_perturbations_reach_both_training_sets_and_are_counted(tmp_path):
    from raqo_core.io import read_jsonl
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.outputs import build_outputs

    amb, unamb = _perturbed(20)
    recs = [{**r, "rank": 40, "candidates": [{"text": f"rewrite {r['i']}", "score": 0.5}], "accepted_per_round": [1]} for r in amb]
    recs += [{**r, "rank": 0, "score": 0.9} for r in unamb]
    cfg = MPADEConfig(perturb_ratio=0.25, none_ratio=0.0)
    stats = build_outputs(tmp_path, recs, [], cfg, similarity=_SameMeaning())
    ccr, qre = read_jsonl(tmp_path / "D_CCR.jsonl"), read_jsonl(tmp_path / "D_QRE.jsonl")
    assert sum(x["source"] == "perturbation" for x in ccr) == 2 == sum(x["query"].startswith("p") for x in qre)
    assert stats["counts"]["perturbations"] == 2 and stats["counts"]["perturbations_mined"] == 20


def test_perturb_query_never_uses_an_excluded_synonym():
    import numpy as np

    from raqo_core.mpade.engine import perturb_query

    class _Retriever:
        """Scores a longer text lower, so the longest synonym is the perturbation that drops most."""

        def encode_texts(self, texts, batch_size=256):
            a = np.array([len(t) / 20.0 for t in texts])
            return np.stack([np.cos(a), np.sin(a)], axis=1)

    gt = np.array([1.0, 0.0])
    best = perturb_query("red", gt, _Retriever(), set(), margin=0.0)
    assert best is not None
    banned = best[1][0]
    assert best[0] == banned == "bolshevik"  # WordNet's longest one-word synonym of "red"
    again = perturb_query("red", gt, _Retriever(), set(), margin=0.0, exclude=frozenset({banned}))
    assert again is not None and banned not in again[0].split() and again[1] != best[1]
