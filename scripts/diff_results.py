"""Compare two results.json files check by check: verdicts, outcomes and numbers.

    python scripts/diff_results.py before/results.json after/results.json

Prints every claim whose verdict changed and every check whose outcome or numbers
(estimate, reference, ci, statistic, p_value, n) differ; exits 1 if a verdict changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NUMBERS = ("estimate", "reference", "ci", "statistic", "p_value", "n")


def main(before_path: str, after_path: str) -> int:
    before, after = (
        {c["id"]: c for c in json.loads(Path(p).read_text())["claims"]}
        for p in (before_path, after_path)
    )
    changed_verdicts = 0
    for cid in sorted(before.keys() | after.keys()):
        if cid not in before or cid not in after:
            print(f"{cid}: only in {'after' if cid in after else 'before'}")
            continue
        b, a = before[cid], after[cid]
        if b["verdict"] != a["verdict"]:
            changed_verdicts += 1
            print(f"{cid}: verdict {b['verdict']} -> {a['verdict']}")
        checks_b = {e["name"]: e for e in b["checks"]}
        for e in a["checks"]:
            old = checks_b.get(e["name"])
            if old is None:
                print(f"{cid} / {e['name']}: new check")
                continue
            if old["outcome"] != e["outcome"]:
                print(f"{cid} / {e['name']}: outcome {old['outcome']} -> {e['outcome']}")
            diffs = [k for k in NUMBERS if old.get(k) != e.get(k)]
            if diffs:
                print(f"{cid} / {e['name']}: numbers differ in {', '.join(diffs)}")
    print(f"{len(after)} claims compared; {changed_verdicts} verdict(s) changed")
    return 1 if changed_verdicts else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
