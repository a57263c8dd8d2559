#!/usr/bin/env python3
"""The Python stack a data team would write for the scorer's job, for the throughput benchmark.

vaderSentiment for sentiment plus a scikit-learn TF-IDF (word 1-2 grams) logistic regression
trained on the same complaints file, scoring in batches. Run single-threaded and pinned to one
core by scripts/bench-scoring.sh. Prints `python_texts_per_sec <median>`.
"""
import argparse
import csv
import statistics
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    with open(args.data, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    labels = [int(r["label"]) for r in rows]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    model = LogisticRegression(max_iter=1000, class_weight="balanced")
    model.fit(vectorizer.fit_transform(texts), labels)
    analyzer = SentimentIntensityAnalyzer()
    corpus = texts * args.repeat

    def score_all():
        complaints = 0
        for start in range(0, len(corpus), args.batch):
            batch = corpus[start:start + args.batch]
            sentiments = [analyzer.polarity_scores(t) for t in batch]
            probs = model.predict_proba(vectorizer.transform(batch))[:, 1]
            complaints += int((probs >= 0.5).sum())
            assert len(sentiments) == len(probs)
        return complaints

    score_all()  # warm-up
    rates = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        complaints = score_all()
        rate = len(corpus) / (time.perf_counter() - t0)
        print(f"python run {run + 1}: {rate:.0f} texts/s ({complaints} complaints of {len(corpus)})", file=sys.stderr)
        rates.append(rate)
    print(f"python_texts_per_sec {statistics.median(rates):.0f}")


if __name__ == "__main__":
    main()
