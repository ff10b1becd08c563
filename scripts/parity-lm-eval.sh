#!/usr/bin/env bash
# jury eval against lm-evaluation-harness on the same GGUF, the same files and the same machine:
# ARC-Easy, ARC-Challenge and four MMLU subjects (0-shot), first LIMIT questions of each.
# Installs lm-eval (with torch and transformers, which loads the GGUF dequantised to fp32) into a
# throwaway venv, runs both, and prints per-task agreement, wall time and peak memory of each.
#
# usage: scripts/parity-lm-eval.sh [LIMIT]   (default 100; needs a built jury and the demo model)
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-100}"
work="${PARITY_DIR:-/tmp/jury-parity}"
model_dir="$PWD/models"
model_file="SmolLM2-135M-Instruct.Q4_1.gguf"
jury="${JURY:-${CARGO_TARGET_DIR:-target}/release/jury}"
[ -x "$jury" ] || { echo "build jury first: cargo build --release (or set JURY)" >&2; exit 2; }
[ -f "$model_dir/$model_file" ] || scripts/fetch-demo-model.sh

mkdir -p "$work"
if [ ! -x "$work/venv/bin/lm_eval" ]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q "lm_eval==0.4.9" gguf "transformers<5" "datasets<4" torch
fi
tasks=$("$work/venv/bin/python" scripts/parity/prepare.py ../shared/datasets "$work/tasks")

echo "--- lm-evaluation-harness $("$work/venv/bin/pip" show lm_eval | sed -n 's/^Version: //p')" >&2
rm -rf "$work/lm-eval-out"
/usr/bin/time -f "lm-eval: %e s wall, %M KiB peak" \
    env HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    "$work/venv/bin/lm_eval" --model hf \
    --model_args "pretrained=$model_dir,gguf_file=$model_file,dtype=float32" \
    --include_path "$work/tasks" --tasks "${tasks// /,}" --limit "$limit" --num_fewshot 0 \
    --batch_size 1 --device cpu --log_samples --output_path "$work/lm-eval-out" > "$work/lm-eval.log" 2>&1 \
    || { tail -30 "$work/lm-eval.log" >&2; exit 1; }
tail -1 "$work/lm-eval.log" >&2

echo "--- jury $("$jury" --version)" >&2
rm -rf "$work/jury-out" "$work/jury.db"
/usr/bin/time -f "jury: %e s wall, %M KiB peak" \
    "$jury" eval --model "$model_dir/$model_file" --dataset-dir ../shared/datasets \
    --datasets arc_easy arc_challenge mmlu --few-shot 0 --limit "$limit" \
    --dataset-args '{"mmlu": {"subset_list": ["anatomy", "astronomy", "high_school_biology", "philosophy"]}}' \
    --db "sqlite://$work/jury.db" --output "$work/jury-out" --no-progress > "$work/jury.log" 2>&1 \
    || { tail -30 "$work/jury.log" >&2; exit 1; }
tail -1 "$work/jury.log" >&2

"$work/venv/bin/python" scripts/parity/compare.py "$work/lm-eval-out" "$work/jury-out" $tasks
