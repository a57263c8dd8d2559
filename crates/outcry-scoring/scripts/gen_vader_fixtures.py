#!/usr/bin/env python3
"""Generate VADER reference scores for the Rust implementation's agreement test.

Run at development time with the reference package installed (pip install vadersentiment==3.3.2):

    python3 crates/outcry-scoring/scripts/gen_vader_fixtures.py \
        ../shared/data/complaints/train.csv > crates/outcry-scoring/tests/fixtures/vader_reference.jsonl

Texts: every tweet of the complaints training file, plus synthetic sentences built from a
fixed seed that exercise negation, boosters and dampeners, ALL CAPS, "but", "!" and "?",
"least", "no", "kind of", idioms, emoticons and emoji. Each output line is
{"text", "compound", "pos", "neu", "neg"} as the reference package returns them.
"""
import csv
import json
import random
import sys

import vaderSentiment
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SUBJECTS = ["the app", "my order", "your support team", "this phone", "the flight", "delivery",
            "the new update", "customer service", "the refund process", "my bill", "the battery",
            "their staff", "the website", "this airline", "the food"]
POSITIVE = ["good", "great", "amazing", "helpful", "love", "excellent", "nice", "awesome", "happy",
            "fantastic", "wonderful", "fine", "cool", "perfect", "kind", "smart", "funny"]
NEGATIVE = ["bad", "terrible", "awful", "broken", "useless", "horrible", "hate", "worst", "sucks",
            "disappointed", "angry", "annoying", "slow", "rude", "poor", "ridiculous", "fail"]
NEGATIONS = ["not", "never", "isn't", "don't", "can't", "wasn't", "without", "nothing", "no",
             "hardly", "rarely", "didn't", "won't", "aint", "nope", "despite"]
BOOSTERS = ["very", "really", "extremely", "so", "totally", "incredibly", "kind of", "sort of",
            "barely", "slightly", "somewhat", "kinda", "fucking", "absolutely", "just enough",
            "most", "little", "hella", "utterly", "more"]
IDIOMS = ["the shit", "the bomb", "bad ass", "badass", "yeah right", "kiss of death", "to die for",
          "beating heart", "bus stop", "cut the mustard", "under the weather", "never so good",
          "never this good", "without a doubt good", "at least good", "the least good",
          "very least good", "no good", "no no good", "no or bad", "least"]
EMOTICONS = [":)", ":(", ":D", ":-(", ";)", ":/", "<3", ":P", "XD", ":'(", "</3", ":-)"]
EMOJI = ["😠", "😍", "😡", "😂", "😢", "😞", "👍", "👎", "🙏", "💔", "😭", "🔥", "🤬", "😊", "🙄",
         "❤", "💩", "😤", "✈", "📱"]
PUNCT = ["", ".", "!", "!!", "!!!!!", "?", "??", "???", "????", "?!", "...", "!?!?"]
FILLERS = ["is", "was", "seems", "feels", "has been", "will be", "looks", "got"]
CONNECT = ["but", "and", "BUT", "though", "yet", "so", "or", "nor"]


def caps(word, rng):
    r = rng.random()
    if r < 0.2:
        return word.upper()
    if r < 0.3:
        return word.capitalize()
    return word


def clause(rng):
    parts = [rng.choice(SUBJECTS), rng.choice(FILLERS)]
    if rng.random() < 0.35:
        parts.append(rng.choice(NEGATIONS))
    if rng.random() < 0.45:
        parts.append(rng.choice(BOOSTERS))
    if rng.random() < 0.15:
        parts.append(rng.choice(BOOSTERS))
    parts.append(rng.choice(POSITIVE + NEGATIVE))
    if rng.random() < 0.2:
        parts.append(rng.choice(IDIOMS))
    return " ".join(caps(p, rng) for p in parts)


def synthetic(rng):
    text = clause(rng)
    if rng.random() < 0.5:
        text += " " + rng.choice(CONNECT) + " " + clause(rng)
    if rng.random() < 0.25:
        text = rng.choice(IDIOMS) + " " + text
    text += rng.choice(PUNCT)
    r = rng.random()
    if r < 0.2:
        text += " " + rng.choice(EMOTICONS)
    elif r < 0.45:
        sep = "" if rng.random() < 0.3 else " "
        text += sep + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.1:
        text = text.upper()
    if rng.random() < 0.05:
        text = "@brand " + text + " http://t.co/x1"
    return text


def main():
    rng = random.Random(20140601)
    texts = []
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        texts.extend(row["text"] for row in csv.DictReader(f))
    texts.extend(synthetic(rng) for _ in range(1700))
    texts.extend(["", "   ", "!!!", "??", ":)", "no", "NO", "not", "but", "kind of", "least",
                  "😠", "😍😍😍", "no no no", "GOOD", "good", "GOOD bad", "bad BAD bad", "but but good"])
    analyzer = SentimentIntensityAnalyzer()
    print(json.dumps({"reference": "vaderSentiment", "version": getattr(vaderSentiment, "__version__", "3.3.2")}),
          file=sys.stderr)
    for text in texts:
        s = analyzer.polarity_scores(text)
        print(json.dumps({"text": text, "compound": s["compound"], "pos": s["pos"], "neu": s["neu"],
                          "neg": s["neg"]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
