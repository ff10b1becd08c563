#!/usr/bin/env bash
# jury's local engine beside llama.cpp on the same GGUF, the same threads and the same machine,
# in one run: load time, prompt tokens/s (a ~480-token prompt, one token generated), and
# single-stream decode tokens/s (greedy, up to 256 tokens), plus each one's peak memory; then
# scoring: the first ARC_LIMIT ARC-Easy questions (default 100) by `jury eval`, and the same
# contexts and choices, as jury wrote them in its samples, evaluated by llama.cpp with the logits
# of every position (one pass per choice, as jury and lm-eval do), with how often both choose alike.
# llama.cpp is llama-cpp-python built from its PyPI source into a throwaway venv (~7 minutes
# the first time); jury answers over its own /v1/completions (raw prompt, no chat template).
#
# usage: scripts/bench-llama-cpp.sh [MODEL.gguf]   (default: the demo model; needs a built jury)
#        JURY=path/to/jury  BENCH_DIR=/tmp/jury-llama-bench  JURY_TRANSCODE=on or off (jury from a
#        Q8_0 copy, or on the file as it is; unset: as jury loads it on this CPU, see the README)
#        ARC_LIMIT=N  DATASETS=../shared/datasets (where arc/ARC-Easy/test.jsonl is)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-$PWD/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
work="${BENCH_DIR:-/tmp/jury-llama-bench}"
jury="${JURY:-${CARGO_TARGET_DIR:-target}/release/jury}"
[ -x "$jury" ] || { echo "build jury first: cargo build --release (or set JURY)" >&2; exit 2; }
[ -f "$model" ] || scripts/fetch-demo-model.sh
threads="$(nproc)"

mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ] || ! "$work/venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q "llama-cpp-python==0.3.36"
fi

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$jury" serve --models-only --addr "127.0.0.1:$port" --model "bench=$model" > "$work/jury-serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT

"$work/venv/bin/python" - "$model" "$threads" "http://127.0.0.1:$port" "$serve" <<'PY'
import json, resource, sys, time, urllib.error, urllib.request

model, threads, jury_url, jury_pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
PROMPT = "The history of the Roman empire"
LONG = " ".join(["The Roman empire grew from a city state on the Tiber into a power that ruled the"
                 " Mediterranean, and its roads, laws and language shaped the lands it held."] * 16)
DECODE, RUNS = 256, 3

def median(xs):
    return sorted(xs)[len(xs) // 2]

# llama.cpp, in this process.
from llama_cpp import Llama
started = time.perf_counter()
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=2048, verbose=False)
llama_load = time.perf_counter() - started
prompt_tokens = len(llm.tokenize(LONG.encode()))
def llama(prompt, max_tokens):
    llm.reset()
    t = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
    return time.perf_counter() - t, out["usage"]["completion_tokens"]
llama(PROMPT, 8)
llama_prompt = median([prompt_tokens / llama(LONG, 1)[0] for _ in range(RUNS)])
llama_decode = median([n / s for s, n in (llama(PROMPT, DECODE) for _ in range(RUNS))])
llama_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# jury, over its /v1 (the first request loads the model).
def jury(prompt, max_tokens):
    body = json.dumps({"model": "bench", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}).encode()
    request = urllib.request.Request(jury_url + "/v1/completions", body, {"content-type": "application/json"})
    t = time.perf_counter()
    for attempt in range(600):
        try:
            with urllib.request.urlopen(request, timeout=600) as r:
                usage = json.load(r)["usage"]
            break
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.1)
    return time.perf_counter() - t, usage
jury_load = jury(PROMPT, 1)[0]
jury(PROMPT, 8)
jury_prompt = median([u["prompt_tokens"] / s for s, u in (jury(LONG, 1) for _ in range(RUNS))])
jury_decode = median([u["completion_tokens"] / s for s, u in (jury(PROMPT, DECODE) for _ in range(RUNS))])
with open(f"/proc/{jury_pid}/status") as f:
    jury_peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024

print(json.dumps({"model": model, "threads": threads, "prompt_tokens": prompt_tokens,
                  "llama_cpp": {"load_s": round(llama_load, 2), "prompt_tokens_per_s": round(llama_prompt, 1),
                                "decode_tokens_per_s": round(llama_decode, 1), "peak_mib": round(llama_peak)},
                  "jury": {"load_s": round(jury_load, 2), "prompt_tokens_per_s": round(jury_prompt, 1),
                           "decode_tokens_per_s": round(jury_decode, 1), "peak_mib": round(jury_peak)},
                  "decode_ratio": round(jury_decode / llama_decode, 2), "prompt_ratio": round(jury_prompt / llama_prompt, 2)}))
PY

# Scoring: jury eval first (a fresh database, so nothing comes from its cache), then llama.cpp
# on the very strings jury scored.
kill $serve 2>/dev/null || true
scoring="$work/scoring"
rm -rf "$scoring" && mkdir -p "$scoring"
started=$(date +%s.%N)
"$jury" eval --model "$model" --dataset-dir "${DATASETS:-../shared/datasets}" --datasets arc_easy --few-shot 0 \
    --limit "${ARC_LIMIT:-100}" --no-progress --json --output "$scoring/out" --db "sqlite://$scoring/jury.db" > "$scoring/report.json"
jury_wall=$(python3 -c "import time; print(time.time() - $started)")
"$work/venv/bin/python" - "$model" "$threads" "$scoring" "$jury_wall" <<'PY'
import json, sys, time
import numpy as np
from llama_cpp import Llama
model, threads, scoring, jury_wall = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
report = json.load(open(f"{scoring}/report.json"))
samples = [json.loads(line) for line in open(f"{scoring}/out/samples_arc_easy.jsonl")]
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=2048, logits_all=True, verbose=False)
def loglikelihood(context, continuation):
    # As lm-eval: the context and the continuation (with its leading space) tokenized apart.
    ctx = llm.tokenize(context.encode(), add_bos=False, special=False)
    cont = llm.tokenize((" " + continuation).encode(), add_bos=False, special=False)
    llm.reset()
    llm.eval(ctx + cont)
    logits = np.asarray(llm.scores[len(ctx) - 1:len(ctx) + len(cont) - 1], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(sum(logprobs[i, t] for i, t in enumerate(cont)))
loglikelihood("Warm", "up")
started = time.perf_counter()
same = 0
for s in samples:
    lls = [loglikelihood(s["prompt"], c) for c in s["choices"]]
    same += int(np.argmax(lls) == np.argmax(s["loglikelihoods"]))
llama_s = time.perf_counter() - started
n = len(samples)
jury_s = report["jury"]["seconds"]
print(json.dumps({"scoring": "arc_easy", "questions": n, "choices": sum(len(s["choices"]) for s in samples),
                  "jury": {"seconds": round(jury_s, 2), "wall_s_with_load": round(jury_wall, 2),
                           "ms_per_question": round(1000 * jury_s / n, 1)},
                  "llama_cpp": {"seconds": round(llama_s, 2), "ms_per_question": round(1000 * llama_s / n, 1)},
                  "cost_ratio": round(jury_s / llama_s, 2), "same_choice": round(same / n, 2)}))
PY
