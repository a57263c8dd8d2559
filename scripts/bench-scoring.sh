#!/usr/bin/env bash
# Scorer throughput on one core, side by side with the equivalent Python stack
# (vaderSentiment + scikit-learn TF-IDF logistic regression), reported as ratios: the full
# score (which adds signals, priority, top terms and the explanation to what Python computes)
# and the same outputs as the Python stack (VADER's scores and the complaint probability).
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
rust_out="$("${pin[@]}" cargo bench -q -p outcry-scoring --bench throughput -- --data "$data" --repeat "$repeat" --runs "$runs")"
py_line="$("${pin[@]}" "$venv/bin/python" scripts/bench_scoring.py --data "$data" --repeat "$repeat" --runs "$runs" | grep '^python_texts_per_sec')"

rust="$(awk '$1 == "rust_texts_per_sec" { print $2 }' <<<"$rust_out")"
core="$(awk '$1 == "rust_core_texts_per_sec" { print $2 }' <<<"$rust_out")"
py="${py_line##* }"
corpus=$((2300 * repeat))
echo "scorer throughput, one core, ${corpus} texts x ${runs} runs (median)"
echo "  rust, full score (outcry-scoring Scorer::score):      ${rust} texts/s"
echo "  rust, what the Python stack computes (sentiment, p):  ${core} texts/s"
echo "  python (vaderSentiment + sklearn tfidf lr):           ${py} texts/s"
awk -v r="$rust" -v c="$core" -v p="$py" 'BEGIN {
    printf "  ratio, full score:  %.1fx\n", r / p
    printf "  ratio, same output: %.1fx\n", c / p
}'
