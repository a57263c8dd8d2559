#!/usr/bin/env bash
# Scorer throughput on one core, side by side with the equivalent Python stack
# (vaderSentiment + scikit-learn TF-IDF logistic regression), reported as a ratio.
#
#   scripts/bench-scoring.sh            # BENCH_REPEAT=10 BENCH_RUNS=5 by default
#
# The corpus is the complaints training file (2,300 tweets) repeated BENCH_REPEAT times.
# Python packages are installed into target/bench-venv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${OUTCRY_DATA_DIR:-../shared/data}"
data="$(cd "$data_dir" && pwd)/complaints/train.csv"
repeat="${BENCH_REPEAT:-10}"
runs="${BENCH_RUNS:-5}"
venv="target/bench-venv"

if ! "$venv/bin/python" -c "import vaderSentiment, sklearn" 2>/dev/null; then
    echo "installing vadersentiment and scikit-learn into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "vadersentiment==3.3.2" scikit-learn
fi

pin=()
if command -v taskset >/dev/null 2>&1; then
    pin=(taskset -c 0)
else
    echo "taskset not found: running unpinned" >&2
fi

cargo bench -p outcry-scoring --bench throughput --no-run >&2
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
rust_line="$("${pin[@]}" cargo bench -q -p outcry-scoring --bench throughput -- --data "$data" --repeat "$repeat" --runs "$runs" | grep '^rust_texts_per_sec')"
py_line="$("${pin[@]}" "$venv/bin/python" scripts/bench_scoring.py --data "$data" --repeat "$repeat" --runs "$runs" | grep '^python_texts_per_sec')"

rust="${rust_line##* }"
py="${py_line##* }"
corpus=$((2300 * repeat))
echo "scorer throughput, one core, ${corpus} texts x ${runs} runs (median)"
echo "  rust   (outcry-scoring):                     ${rust} texts/s"
echo "  python (vaderSentiment + sklearn tfidf lr):  ${py} texts/s"
awk -v r="$rust" -v p="$py" 'BEGIN { printf "  ratio: %.1fx\n", r / p }'
