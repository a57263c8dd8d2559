#!/usr/bin/env bash
# Scorer throughput on one core, side by side with the equivalent Python stack
# (vaderSentiment + scikit-learn TF-IDF logistic regression), reported as ratios: the full
# score (which adds signals, priority, top terms and the explanation to what Python computes)
# and the same outputs as the Python stack (VADER's scores and the complaint probability).
#
#   scripts/bench-scoring.sh            # BENCH_REPEAT=10 BENCH_RUNS=5 by default
#
# BENCH_RUNS pairs of passes, Rust then Python, taking turns.
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
# Rust and Python take turns, one pass each, so that a change in the host's load (the
# machines are shared) moves both sides of a pair alike; each ratio is of one pair, and the
# figures reported are medians over the pairs.
rust_rates=() core_rates=() py_rates=() full_ratios=() core_ratios=()
for run in $(seq 1 "$runs"); do
    rust_out="$("${pin[@]}" cargo bench -q -p outcry-scoring --bench throughput -- --data "$data" --repeat "$repeat" --runs 1)"
    py_line="$("${pin[@]}" "$venv/bin/python" scripts/bench_scoring.py --data "$data" --repeat "$repeat" --runs 1 | grep '^python_texts_per_sec')"
    r="$(awk '$1 == "rust_texts_per_sec" { print $2 }' <<<"$rust_out")"
    c="$(awk '$1 == "rust_core_texts_per_sec" { print $2 }' <<<"$rust_out")"
    p="${py_line##* }"
    rust_rates+=("$r") core_rates+=("$c") py_rates+=("$p")
    full_ratios+=("$(awk -v a="$r" -v b="$p" 'BEGIN { printf "%.2f", a / b }')")
    core_ratios+=("$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')")
    echo "pair $run: rust $r, rust same-output $c, python $p texts/s: ${full_ratios[-1]}x, ${core_ratios[-1]}x" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
corpus=$((2300 * repeat))
echo "scorer throughput, one core, ${corpus} texts, ${runs} pairs of runs taking turns (medians)"
echo "  rust, full score (outcry-scoring Scorer::score):      $(median "${rust_rates[@]}") texts/s"
echo "  rust, what the Python stack computes (sentiment, p):  $(median "${core_rates[@]}") texts/s"
echo "  python (vaderSentiment + sklearn tfidf lr):           $(median "${py_rates[@]}") texts/s"
echo "  ratio, full score:  $(median "${full_ratios[@]}")x (pairs: ${full_ratios[*]})"
echo "  ratio, same output: $(median "${core_ratios[@]}")x (pairs: ${core_ratios[*]})"
