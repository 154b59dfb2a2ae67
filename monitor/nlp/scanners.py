"""Turn text into (term, offset) hits over a fixed vocabulary.

Two scanners share one vocabulary (keyword terms + place names) and one list of `not_terms`
(metaphors, nicknames, agency names: 道德滑坡, 釜山火炉, 食品药品监督局) that report nothing:
- `JiebaScanner`: jieba segmentation with the vocabulary as a user dictionary, so place names
  and domain terms segment whole; a token that is a vocabulary word is a hit, and so is a
  vocabulary 2- or 3-gram inside a longer token (jieba's search mode: 集体中毒 → 中毒).
- `AhoScanner`: one leftmost-longest Aho-Corasick pass (ahocorasick-rs, the Rust aho-corasick
  crate). It skips segmentation, which is where jieba spends its time. pyahocorasick was
  measured first: with ~4,300 words (place names included) its scan ran at ~25,000 posts/s
  against ~255,000 for ahocorasick-rs on the same texts.

Word boundaries in the fast path. A bare automaton fires on a term that straddles two words
(山火 in 釜山|火炉, 人质 in 别人|质疑, 凶杀 in 雇凶|杀害). `boundary_patterns` asks jieba, once at
start-up, about every short string where a dictionary word overlaps a term's start or end
(釜山+火 → 釜山火, 人质+疑 → 人质疑 …); where jieba does not cut the term out of it, the string
becomes one more automaton pattern whose hits are jieba's hits inside it. Leftmost-longest
matching then prefers the longer or earlier pattern to the straddled term at no cost per
post. `benchmarks/detection.py` measures how often the two paths decide alike on real text.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import ahocorasick_rs
import msgspec

Hit = tuple[str, int]

# Dictionary words rarer than this are not worth a boundary pattern (jieba's dict.txt counts).
# 100 gives ~18,000 patterns in ~1 s once per vocabulary (then cached); 10 gave 46,000 and the
# same agreement with jieba on real text, in a larger automaton that scanned ~10% slower.
MIN_WORD_FREQ = 100
MAX_WORD_LEN = 4


class Scanner(Protocol):
    def hits(self, text: str) -> list[Hit]: ...


class AhoScanner:
    """`patterns`: extra strings → the hits each stands for (offsets within the string); a
    vocabulary word stands for itself."""

    def __init__(
        self, vocabulary: Iterable[str], patterns: Mapping[str, tuple[Hit, ...]] | None = None
    ) -> None:
        table: dict[str, tuple[Hit, ...]] = {w: ((w, 0),) for w in vocabulary}
        table.update(patterns or {})
        self._words = sorted(table)
        self._expand = [table[w] for w in self._words]
        self._single = [e[0][0] if len(e) == 1 and e[0][1] == 0 else None for e in self._expand]
        self._automaton = ahocorasick_rs.AhoCorasick(
            self._words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
        )

    @classmethod
    def with_boundaries(
        cls, terms: Iterable[str], names: Iterable[str] = (), not_terms: Iterable[str] = ()
    ) -> AhoScanner:
        """`terms` get boundary patterns; `names` (places) are matched as they are."""
        vocab, blocked = frozenset(terms), frozenset(not_terms)
        patterns: dict[str, tuple[Hit, ...]] = dict.fromkeys(blocked, ())
        patterns.update(boundary_patterns(vocab, blocked))
        return cls(vocab | frozenset(names), patterns)

    def hits(self, text: str) -> list[Hit]:
        single, expand = self._single, self._expand
        out: list[Hit] = []
        for i, start, _ in self._automaton.find_matches_as_indexes(text):
            word = single[i]
            if word is not None:
                out.append((word, start))
            else:
                out.extend((w, start + offset) for w, offset in expand[i])
        return out


class JiebaScanner:
    def __init__(self, vocabulary: Iterable[str], not_terms: Iterable[str] = ()) -> None:
        import jieba  # imported here: loading jieba's dictionary takes a second

        jieba.setLogLevel(60)
        self._tokenizer = jieba.Tokenizer()
        self._vocabulary = frozenset(vocabulary)
        self._not_terms = frozenset(not_terms)
        for word in sorted(self._vocabulary | self._not_terms):
            self._tokenizer.add_word(word)

    @property
    def frequencies(self) -> Mapping[str, int]:
        self._tokenizer.check_initialized()
        return self._tokenizer.FREQ

    def hits(self, text: str) -> list[Hit]:
        # A token yields itself if it is a vocabulary word and, as jieba's search mode does, its
        # vocabulary 2- and 3-grams (集体中毒 → 中毒, 噪声污染 → 污染); a not_term yields nothing.
        vocab, blocked = self._vocabulary, self._not_terms
        found: list[tuple[int, int, str]] = []
        for word, start, _ in self._tokenizer.tokenize(text):
            if word in blocked:
                continue
            n = len(word)
            for size in (2, 3):
                if n > size:
                    found += [
                        (start + i, -size, word[i : i + size])
                        for i in range(n - size + 1)
                        if word[i : i + size] in vocab
                    ]
            if word in vocab:
                found.append((start, -n, word))
        found.sort()
        return _leftmost_longest(found)


def _leftmost_longest(found: list[tuple[int, int, str]]) -> list[Hit]:
    """Keep non-overlapping hits, longest first at each start: the fast path's semantics."""
    out, end = [], 0
    for start, neg_len, word in found:
        if start >= end:
            out.append((word, start))
            end = start - neg_len
    return out


@lru_cache(maxsize=4)
def boundary_patterns(
    vocabulary: frozenset[str], not_terms: frozenset[str] = frozenset()
) -> dict[str, tuple[Hit, ...]]:
    """Strings where a dictionary word overlaps a term's edge and jieba does not cut the term
    out → jieba's hits inside the string (often none). Cached in the process (the worker and
    the tests build scanners over the same vocabulary many times) and on disk, keyed by the
    vocabulary: asking jieba takes seconds, reading the answer back ~0.1 s."""
    key = _cache_key(vocabulary, not_terms)
    cached = _read_cache(key)
    if cached is not None:
        return cached
    patterns = _ask_jieba(vocabulary, not_terms)
    _write_cache(key, patterns)
    return patterns


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yuqing-monitor"


def _cache_key(vocabulary: frozenset[str], not_terms: frozenset[str]) -> str:
    import jieba

    h = hashlib.sha256(f"{jieba.__version__}|{MIN_WORD_FREQ}|{MAX_WORD_LEN}|".encode())
    h.update("\n".join(sorted(vocabulary)).encode())
    h.update(b"|")
    h.update("\n".join(sorted(not_terms)).encode())
    return h.hexdigest()[:32]


_PatternFile = dict[str, list[tuple[str, int]]]


def _read_cache(key: str) -> dict[str, tuple[Hit, ...]] | None:
    path = _cache_dir() / f"boundaries-{key}.msgpack"
    try:
        data = msgspec.msgpack.decode(path.read_bytes(), type=_PatternFile)
    except (OSError, msgspec.DecodeError):
        return None  # absent, unreadable or damaged: ask jieba again
    return {s: tuple((w, at) for w, at in hits) for s, hits in data.items()}


def _write_cache(key: str, patterns: Mapping[str, tuple[Hit, ...]]) -> None:
    folder = _cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".boundaries-{key}.{os.getpid()}.tmp"
        tmp.write_bytes(msgspec.msgpack.encode(patterns))
        tmp.replace(folder / f"boundaries-{key}.msgpack")
    except OSError:
        pass  # a read-only home only costs the next start-up its seconds


def _ask_jieba(
    vocabulary: frozenset[str], not_terms: frozenset[str]
) -> dict[str, tuple[Hit, ...]]:
    jieba_scanner = JiebaScanner(vocabulary, not_terms)
    freq = jieba_scanner.frequencies
    ends: dict[str, list[str]] = {}
    starts: dict[str, list[str]] = {}
    for word, count in freq.items():
        if count >= MIN_WORD_FREQ and 2 <= len(word) <= MAX_WORD_LEN:
            for k in range(1, len(word)):
                ends.setdefault(word[-k:], []).append(word)
                starts.setdefault(word[:k], []).append(word)
    candidates: dict[str, tuple[str, int]] = {}  # string → (term, where the term starts)
    terms = [t for t in vocabulary if len(t) >= 2]
    for term in terms:
        for k in range(1, len(term)):
            head, tail = term[:k], term[k:]
            for left in ends.get(head, ()):
                candidates.setdefault(left + tail, (term, len(left) - k))
            for right in starts.get(tail, ()):
                candidates.setdefault(head + right, (term, 0))
    patterns: dict[str, tuple[Hit, ...]] = {}
    for string, (term, at) in candidates.items():
        if string in vocabulary or string in not_terms:
            continue
        hits = jieba_scanner.hits(string)
        if (term, at) not in hits:
            patterns[string] = tuple(hits)
    return patterns
