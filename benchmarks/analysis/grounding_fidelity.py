"""How often the shipped adapter's concept line names words that are not in the query, with and
without grounded decoding. Reads the rewrite caches that `raqo compare` / `raqo eval` wrote.

    python -m benchmarks.analysis.grounding_fidelity UNGROUNDED.jsonl GROUNDED.jsonl > results/grounding/fidelity.txt
"""

from __future__ import annotations

import argparse
import json

from raqo_core.rewriter.grounding import concept_line_fits


def load(path: str) -> dict[str, dict]:  # type: ignore[type-arg]
    with open(path) as f:
        return {(row := json.loads(line))["q"]: row["r"] for line in f}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ungrounded", help="a rewrite cache file (JSONL) of the ungrounded rewriter")
    ap.add_argument("grounded", help="the same adapter's cache file with grounded concepts")
    a = ap.parse_args(argv)
    free, grounded = load(a.ungrounded), load(a.grounded)
    queries = [q for q in free if q in grounded]
    print(f"queries rewritten both ways: {len(queries)}")
    for name, rows in (("ungrounded", free), ("grounded", grounded)):
        with_concepts = [q for q in queries if rows[q]["concepts"]]
        concepts = [(c, q) for q in with_concepts for c in rows[q]["concepts"]]
        off_line = sum(not concept_line_fits(" " + "; ".join(rows[q]["concepts"]) + "\n", q) for q in with_concepts)
        off = sum(c.lower() not in q.lower() for c, q in concepts)
        print(
            f"{name:>10}: {len(with_concepts)} queries with concepts; {off_line} with a concept line that does not quote"
            f" the query ({100 * off_line / max(1, len(queries)):.1f} % of all); {off} of {len(concepts)} concepts not in the query"
        )
    changed = sum(free[q]["rewritten_query"] != grounded[q]["rewritten_query"] for q in queries)
    print(f"final query changed by grounding: {changed} of {len(queries)}")


if __name__ == "__main__":
    main()
