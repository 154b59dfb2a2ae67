"""The knobs of `monitor learn` (its command-line options; recorded in the model file)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Params:
    l2: float = 2e-5  # penalty on the weights (in logits), per example
    weak_weight: float = 0.3  # a weak negative counts this much of a read label
    min_df: int = 2  # a candidate appears in at least this many training texts
    per_category: int = 120  # terms kept per category after pass 1
    none_terms: int = 120  # terms kept for `none` after pass 1
    long_weight: float = 3.0  # weight of a read text of 200+ characters (news reports are few
    # and long: their `none` evidence piles up over many words unless they count more)
    scale: float = 2.0  # weight points per logit: triggers.yaml's 5–8 are 2.5–4 logits
    min_weight: float = 0.2  # points; lighter weights are dropped from the file
    threshold_shift: float = 3.0  # points taken off min_score after fitting (favours recall)
    candidates: int = 8000  # pass 1 fits the candidates most tied to a category (chi²)
    max_iter: int = 300
    bigrams: int = 0  # 1: adjacent token pairs are candidates too (发生火灾): the fast path then
    # parts from jieba on more texts (0.59% of CEC+Weibo decisions, over the 0.5% allowed)
