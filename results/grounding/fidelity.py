"""How often the shipped adapter's concept line names words that are not in the query, with and
without grounded decoding. Reads the rewrite caches that `raqo compare` / `raqo eval` wrote.

    python results/grounding/fidelity.py UNGROUNDED.jsonl GROUNDED.jsonl > results/grounding/fidelity.txt
"""

from __future__ import annotations

import json
import sys

from raqo_core.rewriter.grounding import concept_line_fits


def load(path: str) -> dict[str, dict]:
    with open(path) as f:
        return {(row := json.loads(line))["q"]: row["r"] for line in f}


def main(free_path: str, grounded_path: str) -> None:
    free, grounded = load(free_path), load(grounded_path)
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
    main(*sys.argv[1:3])
