"""``raqo preferences MPADE_DIR``: the retriever preference lexicon of existing MPADE outputs (what the retriever
misreads, the replacements its recall rewards, the rank gains): preferences.md / .json / .png in that folder."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_common, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preferences", help="what the retriever misreads: a table and chart from MPADE's outputs")
    p.add_argument("mpade", help="an MPADE output folder (raqo mpade --out, or <run>/mpade)")
    p.add_argument("--data", default=None, help="the mined dataset ('embedded' or a folder), for rank gains; default: no rank gains")
    p.add_argument("--retriever", default=None, help="the retriever spec MPADE mined with (default: the one meta.json names)")
    p.add_argument("--top", type=int, default=25, help="concepts in the table (default: %(default)s)")
    add_common(p)
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from raqo_core.errors import RAQOError
    from raqo_core.mpade.preferences import preference_lexicon

    set_threads(a.threads)
    out = Path(a.mpade)
    if not (out / "records.jsonl").is_file() or not (out / "meta.json").is_file():
        raise RAQOError(f"{str(out)!r} holds no finished MPADE outputs; expected records.jsonl and meta.json (raqo mpade --out …)")
    manifest = retriever = None
    if a.data:
        from raqo_core.data.manifest import load_manifest
        from raqo_core.retriever.registry import load_retriever

        meta = json.loads((out / "meta.json").read_text())
        spec = a.retriever or meta.get("retriever", "embedded")
        retriever = load_retriever(spec)
        if meta.get("retriever_fingerprint") not in (None, retriever.fingerprint):
            raise RAQOError(f"{out} was mined with retriever {meta['retriever_fingerprint']!r}, not {retriever.fingerprint!r} ({spec})")
        if a.data == "embedded":
            from raqo_core.paths import embedded_benchmark_dir

            manifest = load_manifest(embedded_benchmark_dir(0))
        else:
            manifest = load_manifest(a.data)
    owners = image_emb = None
    if manifest is not None and retriever is not None:  # the mined split, collected as MPADE collected it
        from raqo_core.mpade.config import MPADEConfig
        from raqo_core.mpade.engine import collect_queries

        mined = json.loads((out / "meta.json").read_text()).get("config", {})
        cfg = MPADEConfig(**{k: v for k, v in mined.items() if k in MPADEConfig.__dataclass_fields__})
        recs, _, owners = collect_queries(manifest, cfg)
        image_emb = retriever.encode_images([manifest.image_path(x) for x in recs])
    res = preference_lexicon(out, retriever, top=a.top, owners=owners, image_emb=image_emb)
    for r in res["concepts"][:10]:
        repl = ", ".join(f"{t} ×{n}" for t, n in r["replacements"]) or "—"
        gain = "" if r["mean_rank_gain"] is None else f", mean rank gain {r['mean_rank_gain']}"
        print(f"{r['concept']}: named {r['named']}, accepted {r['with_accepted_rewrite']} → {repl}{gain}")
    print("wrote " + ", ".join(res["files"].values()))
    return 0
