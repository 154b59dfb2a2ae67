"""Turn text into (term, offset) hits over a fixed vocabulary.

Two scanners share one vocabulary (keyword terms + place names):
- `JiebaScanner`: jieba segmentation with the vocabulary as a user dictionary, so place names
  and domain terms segment whole; a token that is a vocabulary word is a hit.
- `AhoScanner`: one leftmost-longest Aho-Corasick pass (ahocorasick-rs, the Rust aho-corasick
  crate). It skips segmentation, which is where jieba spends its time. pyahocorasick was
  measured first: with ~4,300 words (place names included) its scan ran at ~25,000 posts/s
  against ~255,000 for ahocorasick-rs on the same texts. `tests/unit/test_scanners.py` and
  `benchmarks/classify.py` show both scanners give the same categories on the CEC set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import ahocorasick_rs


class Scanner(Protocol):
    def hits(self, text: str) -> list[tuple[str, int]]: ...


class AhoScanner:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._words = sorted(set(vocabulary))
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )

    def hits(self, text: str) -> list[tuple[str, int]]:
        words = self._words
        return [(words[i], start) for i, start, _ in self._automaton.find_matches_as_indexes(text)]


class JiebaScanner:
    def __init__(self, vocabulary: Iterable[str]) -> None:
        import jieba  # imported here: loading jieba's dictionary takes a second

        jieba.setLogLevel(60)
        self._tokenizer = jieba.Tokenizer()
        self._vocabulary = frozenset(vocabulary)
        for word in sorted(self._vocabulary):
            self._tokenizer.add_word(word)

    def hits(self, text: str) -> list[tuple[str, int]]:
        # Search mode also yields the dictionary 2- and 3-grams inside a longer token, so a
        # term inside a compound (集体中毒 → 中毒, 噪声污染 → 污染) is still a hit.
        vocab = self._vocabulary
        found = sorted(
            ((start, -len(w), w) for w, start, _ in self._tokenizer.tokenize(text, mode="search")
             if w in vocab),
        )  # fmt: skip
        return _leftmost_longest(found)


def _leftmost_longest(found: list[tuple[int, int, str]]) -> list[tuple[str, int]]:
    """Keep non-overlapping hits, longest first at each start: the fast path's semantics."""
    out, end = [], 0
    for start, neg_len, word in found:
        if start >= end:
            out.append((word, start))
            end = start - neg_len
    return out
