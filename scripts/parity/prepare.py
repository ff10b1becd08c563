"""Local copies of ARC and MMLU in the layout lm-evaluation-harness's tasks read, and task YAMLs
that read them, so lm-eval runs without the Hugging Face hub on the files jury reads.

usage: prepare.py SHARED_DATASETS OUT_DIR
"""
import csv
import json
import sys
from pathlib import Path

shared, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
SUBJECTS = ["anatomy", "astronomy", "high_school_biology", "philosophy"]


def arc(folder, name):
    rows = []
    for line in (shared / "arc" / folder / "test.jsonl").read_text().splitlines():
        doc = json.loads(line)
        q = doc["question"]
        rows.append({"id": doc["id"], "question": q["stem"], "answerKey": doc["answerKey"],
                     "choices": {"text": [c["text"] for c in q["choices"]], "label": [c["label"] for c in q["choices"]]}})
    path = out / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # lm-eval's arc_easy.yaml, with the local file as its test split.
    (out / f"{name}_local.yaml").write_text(f"""task: {name}_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
doc_to_choice: "{{{{choices.text}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
""")


def mmlu(subject):
    def read(split):
        with open(shared / "mmlu" / split / f"{subject}_{split}.csv", newline="") as f:
            rows = list(csv.reader(f))
        return [{"question": r[0], "subject": subject, "choices": r[1:5], "answer": int(r[5])} for r in rows[1:]]

    paths = {}
    for split in ["test", "dev"]:
        paths[split] = out / f"mmlu_{subject}_{split}.jsonl"
        paths[split].write_text("".join(json.dumps(r) + "\n" for r in read(split)))
    # lm-eval's mmlu default template (the description names the subject).
    (out / f"mmlu_{subject}_local.yaml").write_text(f"""task: mmlu_{subject}_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {paths['test']}
    dev: {paths['dev']}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\\n\\n"
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
""")


arc("ARC-Easy", "arc_easy")
arc("ARC-Challenge", "arc_challenge")
for s in SUBJECTS:
    mmlu(s)
print(" ".join(["arc_easy_local", "arc_challenge_local"] + [f"mmlu_{s}_local" for s in SUBJECTS]))
