"""Rewrite the queries the shipped adapter answers `Concepts: None` for, with "None" banned.

python -m benchmarks.analysis.detection_force val 500 raqo_core/assets/embedded_adapter /tmp/force_val.json

Writes, per query: P(" None") as the first answer token, the greedy result and (for the None
queries) the forced result. `benchmarks.analysis.detection_sweep` then asks: would a detection threshold help?
"""

from __future__ import annotations

import argparse
import json

import torch

from raqo_core.data.manifest import load_manifest
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.rewriter import prompt as P
from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split")
    ap.add_argument("n", type=int)
    ap.add_argument("adapter")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    split, n, adapter, out = a.split, a.n, a.adapter, a.out
    torch.set_num_threads(2)
    m = load_manifest(embedded_benchmark_dir(0))
    texts = [t for r in m.split(split) for t in r.texts("user")][:n]
    rw = Rewriter(RewriterConfig(adapter=adapter, timeout_s=None)).load()
    be = rw._backend
    tok, model = be.tokenizer, be.model
    none_ids = tok(" None", add_special_tokens=False)["input_ids"]
    prompts = [be.chat_prompt(P.messages(P.sanitize_query(q), "recot"), P.response_prefix("recot")) for q in texts]
    p_none: list[float] = []
    with torch.inference_mode():
        for a in range(0, len(prompts), 16):
            enc = tok(prompts[a : a + 16], return_tensors="pt", padding=True, add_special_tokens=False)
            p_none += torch.softmax(model(**enc).logits[:, -1].float(), -1)[:, none_ids[0]].tolist()
    greedy = rw.rewrite_batch(texts)
    idx = [i for i, g in enumerate(greedy) if not g.applied and g.reason == "no challenging concepts"]
    generate = model.generate
    model.generate = lambda **kw: generate(bad_words_ids=[none_ids], **kw)  # ban "None": name concepts
    rw.clear_cache()
    forced = rw.rewrite_batch([texts[i] for i in idx])
    model.generate = generate
    rec = [{"q": texts[i], "p_none": p_none[i], "greedy": g.to_dict()} for i, g in enumerate(greedy)]
    for j, i in enumerate(idx):
        rec[i]["forced"] = forced[j].to_dict()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(rec, fh)


if __name__ == "__main__":
    main()
