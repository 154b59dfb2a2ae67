"""Learn the keyword model's weights from labelled texts (`monitor learn`).

The model learned has exactly the run-time form, so nothing is lost between fitting and use:
per category a sum of non-negative term weights, `none` likewise plus `min_score`, with the
curated event lexicon (triggers.yaml: triggers, not-incident context, casualty evidence) added
on top as fixed scores. It is a softmax (multinomial logistic) regression whose logits are
those sums divided by `scale`:

    logit(c)    = (Σ w[t, c] + triggers(c) + casualties) / scale      for each category c
    logit(none) = (min_score + Σ w[t, none] + context) / scale

fitted with an L2 penalty and w ≥ 0 (so every weight an analyst reads is evidence *for* its
category), by L-BFGS-B. Two passes:

1. Candidates are jieba tokens of two or more characters and, with `bigrams`, adjacent token
   pairs kept as one term (发生爆炸; off by default: such terms make the fast path and the
   jieba path decide apart more often). scikit-learn's CountVectorizer builds the binary
   matrix; the fit keeps the strongest `per_category` terms per category.
2. The run-time scanner (the Classifier the worker uses, word boundaries included) reads the
   texts again over the kept terms, and the weights are fitted once more on exactly what it
   reports: a bigram that consumes its words at run time is scored that way in training.

THUCNews headlines of topics other than society and politics are `none` by their corpus topic
(weak negatives, weighted `weak_weight`); nobody read them.

scikit-learn (and scipy, which it brings) is needed here only; classifying needs neither.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.config.model import CategorySpec, LearnedModel
from monitor.config.schema import NONE_KEY, CityConfig
from monitor.domain.detect import has_casualty_facts
from monitor.domain.extract import extract_casualties
from monitor.learning.data import Example
from monitor.learning.params import Params

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from monitor.service import Classifier

_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_DIGITS = re.compile(r"^[\d.%]+$")
Progress = Callable[[str], None]
LONG = 200  # characters: a news report rather than a headline or a post


@dataclass
class Fitted:
    model: LearnedModel
    classes: list[str]
    vocabulary: list[str] = field(default_factory=list)
    passes: list[dict[str, Any]] = field(default_factory=list)


def learn(
    examples: Sequence[Example], cfg: CityConfig, params: Params | None = None,
    learned: Mapping[str, Any] | None = None, progress: Progress | None = None,
) -> Fitted:  # fmt: skip
    """Fit a model on `examples` (read labels and weak negatives) for the city `cfg`."""
    params = params or Params()
    say = progress or (lambda _m: None)
    from monitor.service import Classifier

    base = Classifier.from_config(cfg)
    lexicon = base.lexicon
    unknown = {e.category for e in examples} - set(cfg.categories)
    if unknown:
        raise ValueError(f"labels use categories the city config lacks: {sorted(unknown)}")
    classes = [*sorted({e.category for e in examples} - {NONE_KEY}), NONE_KEY]
    y = np.array([classes.index(e.category) for e in examples])
    weights = np.array([_weight(e, params) for e in examples])
    evidence = [_casualty_evidence(e.text, base) for e in examples]

    say(f"pass 1: jieba candidates over {len(examples)} texts")
    excluded = base.gazetteer.names | lexicon.not_terms
    tokenizer = _tokenizer(lexicon.vocabulary | lexicon.not_terms)
    token_sets = [candidates(e.text, tokenizer, bool(params.bigrams)) for e in examples]
    # A term holding a trigger (发生爆炸 ⊃ 爆炸) would hide it: leftmost-longest scanning reports
    # the longer term only, and the trigger would no longer decide the category.
    words = lexicon.vocabulary
    excluded |= {t for s in token_sets for t in s if t not in words and any(w in t for w in words)}
    token_sets = [s - excluded for s in token_sets]
    x1, vocab1 = _matrix(token_sets, params.min_df)
    x1, vocab1 = _preselect(x1, vocab1, y, params.candidates)
    offsets1 = _offsets(token_sets, evidence, classes, lexicon, params.scale)
    w1, _ = _fit(x1, y, weights, offsets1, len(classes), params)
    kept = _strongest(w1, vocab1, classes, params.per_category, params.none_terms)
    # The lexicon's words always get learned weights too (history, illness, fiction context
    # for `none`; triggers for their topics): the curated list and the fit work together.
    kept = sorted(set(kept) | (lexicon.vocabulary & set(vocab1)))

    say(f"pass 2: run-time scanner over {len(kept)} kept terms")
    provisional = _model({NONE_KEY: dict.fromkeys(kept, 1.0)}, 1.0, None)
    scanner = Classifier.from_config(cfg, learned=provisional).scanner
    kept_set = set(kept)
    hit_sets = [{t for t, _ in scanner.hits(e.text)} for e in examples]
    x2, vocab2 = _matrix([s & kept_set for s in hit_sets], 1)
    offsets2 = _offsets(hit_sets, evidence, classes, lexicon, params.scale)
    w2, theta = _fit(x2, y, weights, offsets2, len(classes), params)
    z = x2 @ w2 + offsets2
    best = z[:, :-1].max(axis=1)
    incident = best > np.maximum(theta, z[:, -1])
    self_check = np.where(incident, z[:, :-1].argmax(axis=1), len(classes) - 1)

    terms: dict[str, dict[str, float]] = {c: {} for c in classes}
    for j, term in enumerate(vocab2):
        for k, c in enumerate(classes):
            if c != NONE_KEY and term in lexicon.context:
                continue  # not-incident context may only ever count against an incident
            points = float(w2[j, k]) * params.scale
            if points >= params.min_weight:
                terms[c][term] = round(points, 2)
    min_score = max(round(theta * params.scale - params.threshold_shift, 2), 0.1)
    record = dict(learned or {})
    record["params"] = asdict(params)
    record["texts"] = {"read": sum(not e.weak for e in examples),
                       "weak_negatives": sum(e.weak for e in examples)}  # fmt: skip
    model = _model(terms, min_score, record)
    return Fitted(model, classes, vocab2, [{"candidates": len(vocab1), "kept": len(kept),
                                             "train_pred": self_check}])  # fmt: skip


def _weight(e: Example, params: Params) -> float:
    if e.weak:
        return params.weak_weight
    return params.long_weight if len(e.text) >= LONG else 1.0


def _model(
    terms: Mapping[str, Mapping[str, float]], min_score: float, learned: dict[str, Any] | None
) -> LearnedModel:
    cats = {c: CategorySpec(terms=dict(sorted(t.items(), key=lambda kv: (-kv[1], kv[0]))))
            for c, t in terms.items() if t or c == NONE_KEY}  # fmt: skip
    return LearnedModel(learned=learned, min_score=min_score, categories=cats)


_TOKENIZERS: dict[frozenset[str], Any] = {}


def _tokenizer(words: frozenset[str]) -> Any:
    """A jieba tokenizer that keeps the lexicon's words whole (one per lexicon, reused)."""
    if words not in _TOKENIZERS:
        import jieba

        jieba.setLogLevel(60)
        tok = jieba.Tokenizer()
        for w in sorted(words):
            tok.add_word(w)
        _TOKENIZERS[words] = tok
    return _TOKENIZERS[words]


def candidates(text: str, tokenizer: Any, bigrams: bool = True) -> set[str]:
    """Jieba tokens of two or more characters and adjacent pairs, as single terms."""
    words = [w for w in tokenizer.lcut(text) if _WORDY.search(w) and not _DIGITS.match(w)]
    out = {w for w in words if len(w) >= 2}
    if bigrams:
        out.update(a + b for a, b in itertools.pairwise(words) if len(a + b) <= 6)
    return out


def _casualty_evidence(text: str, classifier: Classifier) -> bool:
    return has_casualty_facts(extract_casualties(text, classifier.plain_injury_is_serious))


def _matrix(sets: Sequence[Iterable[str]], min_df: int) -> tuple[csr_matrix, list[str]]:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(analyzer=lambda s: list(s), binary=True, min_df=min_df,
                          lowercase=False, dtype=np.float64)  # fmt: skip
    x = vec.fit_transform(sets).tocsr()
    return x, list(vec.get_feature_names_out())


def _preselect(
    x: csr_matrix, vocab: list[str], y: np.ndarray, limit: int
) -> tuple[csr_matrix, list[str]]:
    from sklearn.feature_selection import chi2

    if len(vocab) <= limit:
        return x, vocab
    scores, _ = chi2(x, y)
    keep = np.sort(np.argsort(-np.nan_to_num(scores))[:limit])
    return x[:, keep], [vocab[j] for j in keep]


def _offsets(
    sets: Sequence[set[str]], evidence: Sequence[bool], classes: list[str], lexicon: Any,
    scale: float,
) -> np.ndarray:  # fmt: skip
    """The event lexicon's fixed scores, in logits, as the run-time rule adds them."""
    index = {c: k for k, c in enumerate(classes)}
    none = index[NONE_KEY]
    out = np.zeros((len(sets), len(classes)))
    for i, seen in enumerate(sets):
        for term in seen & lexicon.triggers.keys():
            for c, w in lexicon.triggers[term].items():
                if c in index:
                    out[i, index[c]] += w
        for c, together, w in lexicon.combos:
            if c in index and together <= seen:
                out[i, index[c]] += w
        kinds = {lexicon.context[t] for t in seen & lexicon.context.keys()}
        for kind in kinds:
            out[i, none] += lexicon.context_weight[kind]
        if evidence[i] and not kinds:
            # the run-time rule gives it to the leading category; every category alike here
            out[i, :none] += lexicon.casualty_weight
    return out / scale


def _fit(
    x: csr_matrix, y: np.ndarray, sw: np.ndarray, offsets: np.ndarray, k: int, p: Params
) -> tuple[np.ndarray, float]:
    """Softmax regression shaped as the run-time rule, w ≥ 0, L2 on w, by L-BFGS-B.

    Run time calls a text an incident when the best category reaches `min_score` *and* beats
    `none`'s terms: best > max(θ, none). So `none` is two outcomes here, a constant θ and the
    sum of its terms (plus context), and a `none` label is the likelihood of either."""
    from scipy.optimize import minimize

    n, f = x.shape
    target = np.zeros((n, k + 1))  # columns: categories…, θ, none's terms
    is_none = y == k - 1
    target[np.arange(n)[~is_none], y[~is_none]] = 1.0
    sw = sw / sw.sum()
    xt = x.T.tocsr()

    def loss(v: np.ndarray) -> tuple[float, np.ndarray]:
        w, theta = v[:-1].reshape(f, k), v[-1]
        z = x @ w + offsets
        logits = np.concatenate([z[:, :-1], np.full((n, 1), theta), z[:, -1:]], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        prob = e / e.sum(axis=1, keepdims=True)
        t = target.copy()
        either = prob[is_none, -2:]
        t[is_none, -2:] = either / either.sum(axis=1, keepdims=True)
        gold = np.sum(prob * target, axis=1)
        gold[is_none] = either.sum(axis=1)
        nll = -float(np.sum(sw * np.log(np.maximum(gold, 1e-300))))
        resid = (prob - t) * sw[:, None]
        gz = np.concatenate([resid[:, :-2], resid[:, -1:]], axis=1)
        gw = xt @ gz + p.l2 * w
        grad = np.append(np.asarray(gw).ravel(), resid[:, -2].sum())
        return nll + 0.5 * p.l2 * float(np.sum(w * w)), grad

    v0 = np.zeros(f * k + 1)
    v0[-1] = 1.0
    bounds = [(0.0, None)] * (f * k + 1)
    res = minimize(loss, v0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": p.max_iter})  # fmt: skip
    return res.x[:-1].reshape(f, k), float(res.x[-1])


def _strongest(
    w: np.ndarray, vocab: list[str], classes: list[str], per: int, none: int
) -> list[str]:
    kept: set[str] = set()
    for k, c in enumerate(classes):
        limit = none if c == NONE_KEY else per
        order = np.argsort(-w[:, k])[:limit]
        kept.update(vocab[j] for j in order if w[j, k] > 0)
    return sorted(kept)
