"""MPADE end to end with the embedded retriever and the offline agent: schemas, filtering,
perturbation labelling, resume-after-kill equivalence, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from raqo_core.data.manifest import load_manifest
from raqo_core.errors import RAQOError
from raqo_core.io import read_jsonl
from raqo_core.mpade.agents import OfflineAgent
from raqo_core.mpade.config import MPADEConfig
from raqo_core.mpade.engine import perturb_query, run_mpade
from raqo_core.retriever.registry import shared_retriever
from raqo_core.text import caption_vocabulary

pytestmark = pytest.mark.integration
FILES = ("D_CCR.jsonl", "D_QRE.jsonl", "D_PRO.jsonl")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from raqo_core.data.synth import SynthConfig, generate

    d = tmp_path_factory.mktemp("mpade_bench")
    generate(d, SynthConfig(seed=11, n_train=200, n_val=0, n_test=0), progress=False)
    m = load_manifest(d)
    r = shared_retriever("embedded")
    captions = [c for x in m.split("train") for c in x.captions]
    vocab = caption_vocabulary(captions)
    return d, m, r, vocab


def _cfg(**kw):
    return MPADEConfig(register="user", limit=240, chunk_size=16, rounds=2, **kw)


def test_schemas_and_statistics(setup, tmp_path):
    d, m, r, vocab = setup
    meta = run_mpade(m, r, OfflineAgent.from_manifest(r, m), tmp_path, _cfg(), vocabulary=vocab, progress=False)
    assert meta["finished"] and meta["labels"]["ambiguous"] > 0 and meta["labels"]["unambiguous"] > 0
    ccr, qre, pro = (read_jsonl(tmp_path / f) for f in FILES)
    assert ccr and qre and pro
    for x in ccr:
        assert set(x) == {"query", "concepts", "source"} and isinstance(x["concepts"], list)
    assert any(x["concepts"] == [] for x in ccr), "None examples from unambiguous queries"
    for x in qre:
        assert set(x) == {"query", "concepts", "rewrite", "score"} and x["rewrite"] != x["query"]
    for x in pro:
        scores = [c["score"] for c in x["candidates"]]
        assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    saved = json.loads((tmp_path / "meta.json").read_text())
    assert saved["retriever_fingerprint"] == r.fingerprint and saved["config"]["unambiguous_k"] == 5
    assert saved["counts"]["D_PRO"] == len(pro) and sum(saved["pro_list_lengths"].values()) == len(pro)
    assert "Top challenging concepts" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "concepts.png").stat().st_size > 1000
    # the preference lexicon: concepts, replacements and rank gains against the mined split, in the report
    lex = json.loads((tmp_path / "preferences.json").read_text())["concepts"]
    assert lex and lex == sorted(lex, key=lambda x: -x["named"]) and (tmp_path / "preferences.png").stat().st_size > 1000
    gains = [x["mean_rank_gain"] for x in lex if x["mean_rank_gain"] is not None]
    assert gains and all(g > 0 for g in gains)  # accepted rewrites bring the target from rank >= 10 to < 5
    assert "## What this retriever misreads (preference lexicon)" in (tmp_path / "report.md").read_text()
    # the command on existing outputs recomputes the same table (encoding the mined split again)
    from raqo_core.cli import main

    (tmp_path / "preferences.json").unlink()
    assert main(["preferences", str(tmp_path), "--data", str(d)]) == 0
    assert json.loads((tmp_path / "preferences.json").read_text())["concepts"] == json.loads(json.dumps(lex))


def test_filtering_drops_and_reports(setup, tmp_path):
    d, m, r, vocab = setup
    meta = run_mpade(
        m,
        r,
        OfflineAgent.from_manifest(r, m),
        tmp_path / "strict",
        _cfg(filter_threshold=0.99),
        vocabulary=vocab,
        progress=False,
    )
    loose = run_mpade(
        m,
        r,
        OfflineAgent.from_manifest(r, m),
        tmp_path / "loose",
        _cfg(filter_threshold=-1.0),
        vocabulary=vocab,
        progress=False,
    )
    assert loose["filtering"]["dropped"] == {"rewrites": 0, "perturbations": 0}
    assert meta["filtering"]["dropped"]["rewrites"] > 0
    assert meta["counts"]["D_QRE"] < loose["counts"]["D_QRE"]


def test_run_that_yields_nothing_says_so(setup, tmp_path):
    d, m, r, vocab = setup
    with pytest.raises(RAQOError, match="MPADE produced no training pairs.*No D_CCR, D_QRE or D_PRO was written; the mined records"):
        run_mpade(
            m,
            r,
            OfflineAgent.from_manifest(r, m),
            tmp_path,
            _cfg(filter_threshold=1.0, perturb=False),
            vocabulary=vocab,
            progress=False,
        )
    assert not (tmp_path / "D_QRE.jsonl").exists()


def test_perturbation_labelling(setup):
    _, m, r, vocab = setup
    rec = m.split("train")[0]
    gt = r.encode_images([m.image_path(rec)])[0]
    q = rec.captions[0]
    p = perturb_query(q, gt, r, vocab, margin=-1.0)
    assert p is not None
    new, concepts, drop = p
    assert len(concepts) == 1 and concepts[0] not in vocab and concepts[0] in new.split()
    assert len(new.split()) == len(q.split()) and sum(a != b for a, b in zip(new.split(), q.split(), strict=True)) == 1
    assert drop == pytest.approx(float(r.encode_texts([q])[0] @ gt - r.encode_texts([new])[0] @ gt), abs=1e-4)
    assert perturb_query(q, gt, r, vocab, margin=2.0) is None  # a similarity can't drop by 2


def test_resume_after_kill_gives_identical_files(setup, tmp_path):
    d, m, r, vocab = setup
    full = tmp_path / "full"
    run_mpade(m, r, OfflineAgent.from_manifest(r, m), full, _cfg(), vocabulary=vocab, progress=False)
    part = tmp_path / "part"
    meta = run_mpade(m, r, OfflineAgent.from_manifest(r, m), part, _cfg(), vocabulary=vocab, progress=False, stop_after_chunks=3)
    assert not meta["finished"] and (part / "meta.partial.json").exists() and not (part / "D_QRE.jsonl").exists()
    with (part / "records.jsonl").open("a") as fh:
        fh.write('{"i": 999999, "kind": "ambig')  # torn line of a chunk that never committed
    run_mpade(m, r, OfflineAgent.from_manifest(r, m), part, _cfg(), vocabulary=vocab, progress=False)
    for f in FILES:
        assert (part / f).read_bytes() == (full / f).read_bytes(), f


def test_edit_concept_lines_rebuilt_from_mined_records(setup, tmp_path):
    """``concepts: edits`` re-labels the same mined records without mining again: each concept line
    names exactly the query spans its rewrite changes, and every concept quotes its query."""
    import shutil

    from raqo_core.mpade.outputs import edited_spans
    from raqo_core.rewriter.grounding import concept_line_fits

    d, m, r, vocab = setup
    agent_dir, edits_dir = tmp_path / "agent", tmp_path / "edits"
    run_mpade(m, r, OfflineAgent.from_manifest(r, m), agent_dir, _cfg(), vocabulary=vocab, progress=False)
    edits_dir.mkdir()
    for f in ("records.jsonl", "done.txt"):
        shutil.copy(agent_dir / f, edits_dir / f)

    class NoAgent(OfflineAgent):
        def propose_batch(self, requests):
            raise AssertionError("finished chunks must not be mined again")

    cfg = _cfg(concepts="edits", max_concepts=3)
    meta = run_mpade(m, r, NoAgent.from_manifest(r, m), edits_dir, cfg, vocabulary=vocab, progress=False)
    assert meta["config"]["concepts"] == "edits"
    qre_a, qre_e = read_jsonl(agent_dir / "D_QRE.jsonl"), read_jsonl(edits_dir / "D_QRE.jsonl")
    assert [(x["query"], x["rewrite"]) for x in qre_a] == [(x["query"], x["rewrite"]) for x in qre_e]
    assert sum(x["concepts"] != y["concepts"] for x, y in zip(qre_a, qre_e, strict=True)) > 0
    for x in qre_e:
        assert x["concepts"] == edited_spans(x["query"], x["rewrite"], cfg.max_concept_words)[: cfg.max_concepts]
        if x["concepts"]:
            assert concept_line_fits(" " + ";".join(x["concepts"]) + "\n", x["query"]), x
    pro_a, pro_e = read_jsonl(agent_dir / "D_PRO.jsonl"), read_jsonl(edits_dir / "D_PRO.jsonl")
    assert [x["candidates"] for x in pro_a] == [x["candidates"] for x in pro_e]


def test_perturbations_capped_and_excluded_when_relabelling(setup, tmp_path):
    """``perturb_exclude`` and ``perturb_ratio`` rebuild D_CCR and D_QRE from mined records, without
    mining again: no excluded word is used, and at most ratio × ambiguous queries perturbations are."""
    import shutil
    from collections import Counter

    d, m, r, vocab = setup
    mined = tmp_path / "mined"
    run_mpade(m, r, OfflineAgent.from_manifest(r, m), mined, _cfg(), vocabulary=vocab, progress=False)
    records = read_jsonl(mined / "records.jsonl")
    words = Counter(w for x in records if "perturbation" in x for w in x["perturbation"]["concepts"])
    assert len(words) >= 2, "the fixture must mine perturbations"
    banned = words.most_common(1)[0][0]
    n_amb = sum(x["kind"] == "ambiguous" for x in records)

    class NoAgent(OfflineAgent):
        def propose_batch(self, requests):
            raise AssertionError("finished chunks must not be mined again")

    def relabel(name, **kw):
        out = tmp_path / name
        out.mkdir()
        for f in ("records.jsonl", "done.txt"):
            shutil.copy(mined / f, out / f)
        meta = run_mpade(m, r, NoAgent.from_manifest(r, m), out, _cfg(**kw), vocabulary=vocab, progress=False)
        pert = [x for x in read_jsonl(out / "D_CCR.jsonl") if x["source"] == "perturbation"]
        assert len(pert) == meta["counts"]["perturbations"] - meta["filtering"]["dropped"]["perturbations"]
        restore = [x for x in read_jsonl(out / "D_QRE.jsonl") if x["query"] in {p["query"] for p in pert}]
        assert len(restore) == len(pert), "perturb_qre (the default) teaches each one's restoration"
        assert meta["counts"]["perturbations_mined"] == sum(words.values())
        return meta, pert

    meta, pert = relabel("excluded", perturb_exclude=[banned.upper()])
    assert meta["counts"]["perturbations"] == sum(words.values()) - words[banned]
    assert pert and all(banned not in x["concepts"] for x in pert)
    cap = round(0.2 * n_amb)
    assert 0 < cap < sum(words.values()), "the fixture must mine more perturbations than the cap"
    meta, pert = relabel("capped", perturb_ratio=0.2)
    assert meta["counts"]["perturbations"] == cap
    assert "perturbations used as ambiguous variants" in (tmp_path / "capped" / "report.md").read_text()


@pytest.mark.slow
def test_cli_killed_process_resumes(setup, tmp_path):
    d, *_ = setup
    out = tmp_path / "cli"

    def command(dest):
        return [
            sys.executable,
            "-m",
            "raqo_core.cli",
            "mpade",
            "--data",
            str(d),
            "--agent",
            "offline",
            "--out",
            str(dest),
            "--register",
            "user",
            "--limit",
            "240",
            "--rounds",
            "2",
            "--threads",
            "1",
        ]

    cmd = command(out)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "done.txt").exists() and (out / "done.txt").read_text().strip():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait()
    assert not (out / "meta.json").exists()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref = tmp_path / "ref"
    subprocess.run(command(ref), env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for f in FILES:
        assert (out / f).read_bytes() == (ref / f).read_bytes(), f


def test_resume_refuses_records_mined_with_other_settings(setup, tmp_path):
    """A copied output folder resumes only with the same data, mining settings, retriever and agent."""
    import shutil

    d, m, r, vocab = setup
    first = tmp_path / "first"
    run_mpade(m, r, OfflineAgent.from_manifest(r, m), first, _cfg(), vocabulary=vocab, progress=False)
    key = json.loads((first / "mined_with.json").read_text())
    assert key["settings"]["register"] == "user" and key["queries"]["n"] == 240 and key["agent"] == "offline"
    for change, message in (({"limit": 200}, r"limit=240 \(now 200\)"), ({"rounds": 3}, r"rounds=2 \(now 3\)")):
        other = tmp_path / f"copy{len(change)}{next(iter(change))}"
        shutil.copytree(first, other)
        with pytest.raises(RAQOError, match=f"mined with {message}.*resume only with the same data and mining settings"):
            run_mpade(
                m,
                r,
                OfflineAgent.from_manifest(r, m),
                other,
                MPADEConfig(**{**_cfg().__dict__, **change}),
                vocabulary=vocab,
                progress=False,
            )
    relabel = tmp_path / "relabel"  # output-only settings relabel the same records
    shutil.copytree(first, relabel)
    meta = run_mpade(m, r, OfflineAgent.from_manifest(r, m), relabel, _cfg(concepts="edits"), vocabulary=vocab, progress=False)
    assert meta["finished"] and meta["config"]["concepts"] == "edits"


def test_chunks_the_agent_failed_stay_to_do_and_a_breaker_stops_the_run(setup, tmp_path):
    from raqo_core.mpade.agents import Proposal

    d, m, r, vocab = setup

    class Down(OfflineAgent):
        def propose_batch(self, requests):
            return [Proposal([], [], error="HTTPFailure: connection refused") for _ in requests]

    out = tmp_path / "down"
    with pytest.raises(RAQOError, match=r"failed every request of 2 chunks in a row \(last error: HTTPFailure: connection refused\)"):
        run_mpade(m, r, Down.from_manifest(r, m), out, _cfg(), vocabulary=vocab, progress=False)
    mined = read_jsonl(out / "records.jsonl") if (out / "records.jsonl").exists() else []
    assert not [r for r in mined if r["kind"] == "ambiguous"]  # no chunk the agent failed is recorded as done
    meta = run_mpade(m, r, OfflineAgent.from_manifest(r, m), out, _cfg(), vocabulary=vocab, progress=False)  # the server is back
    assert meta["finished"] and (out / "D_QRE.jsonl").is_file()
