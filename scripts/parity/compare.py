"""Per-question agreement of jury and lm-evaluation-harness on the same tasks.

usage: compare.py LM_EVAL_OUTPUT_DIR JURY_OUTPUT_DIR TASK...
Each TASK is lm-eval's name of the local copy (`arc_easy_local`); jury's is the same without
`_local`. Prints one JSON line per task: accuracies, their difference in points, and the share of
questions where both chose the same answer.
"""
import json
import sys
from pathlib import Path

lm_dir, jury_dir, tasks = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]


def argmax(values):
    return max(range(len(values)), key=lambda i: (values[i], -i))


for task in tasks:
    ours = task.removesuffix("_local")
    lm_file = sorted(lm_dir.rglob(f"samples_{task}_*.jsonl"))[-1]
    lm = {}
    for line in lm_file.read_text().splitlines():
        s = json.loads(line)
        lls = [r[0][0] if isinstance(r[0], list) else r[0] for r in s["resps"]]
        lm[s["doc_id"]] = (argmax([float(x) for x in lls]), s["acc"])
    jury = {}
    for line in (jury_dir / f"samples_{ours}.jsonl").read_text().splitlines():
        s = json.loads(line)
        jury[s["doc_id"]] = (argmax(s["loglikelihoods"]), s["acc"])
    common = sorted(set(lm) & set(jury))
    same = sum(lm[d][0] == jury[d][0] for d in common)
    acc_lm = sum(lm[d][1] for d in common) / len(common)
    acc_jury = sum(jury[d][1] for d in common) / len(common)
    print(json.dumps({"task": ours, "n": len(common), "acc_lm_eval": round(acc_lm, 4), "acc_jury": round(acc_jury, 4),
                      "delta_points": round(100 * (acc_jury - acc_lm), 2), "same_choice": round(same / len(common), 4)}))
