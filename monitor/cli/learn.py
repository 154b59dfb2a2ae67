"""`monitor learn` (fit a keyword model from labels) and `monitor eval` (measure the classifier
on the labelled development set). Both need the `learn` extra (scikit-learn, cn2an, rich) and
the texts in ../shared/data; classifying needs neither."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.config import ConfigError, load_config
from monitor.config.schema import CityConfig
from monitor.learning.data import (
    LABELLED_TOPICS,
    THUCNEWS_FILE,
    DataUnavailable,
    Example,
    LabelError,
    SharedData,
    read_labels,
)
from monitor.learning.params import Params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("learn", help="learn a keyword model from labelled texts (YAML out)")
    p.add_argument("labels", nargs="+", help="label files (labels/*.jsonl)")
    p.add_argument("--out", required=True, help="model YAML to write")
    p.add_argument("--config", help="city config whose categories are learned (default: Ziyang)")
    p.add_argument(
        "--no-weak", action="store_true",
        help="leave out THUCNews headlines of other topics as weak negatives",
    )
    _param_args(p)
    p.set_defaults(func=run_learn)

    e = sub.add_parser("eval", help="precision, recall, categories, casualties on labelled texts")
    e.add_argument("labels", nargs="+", help="label files (labels/*.jsonl)")
    e.add_argument("--config", help="city config (default: Ziyang)")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument(
        "--cv", choices=["auto", "yes", "no"], default="auto",
        help="cross-validate: auto = when the model was learned from these labels",
    )
    e.add_argument("--worst", type=int, default=20, help="errors to print with their texts")
    e.set_defaults(func=run_eval)


def _param_args(p: argparse.ArgumentParser) -> None:
    defaults = Params()
    for name, value in vars(defaults).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                       help=f"(default {value})")  # fmt: skip


def _inputs(args: argparse.Namespace) -> tuple[CityConfig, SharedData, list[Example]] | None:
    try:
        cfg = load_config(args.config)
        labels = read_labels(args.labels)
        data = SharedData.locate()
        return cfg, data, data.join(labels)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
    except (LabelError, OSError) as exc:
        print(f"monitor: {exc}", file=sys.stderr)
    except DataUnavailable as exc:
        print(f"monitor: skipped: {exc}", file=sys.stderr)
    return None


def run_learn(args: argparse.Namespace) -> int:
    got = _inputs(args)
    if got is None:
        return 2
    cfg, data, examples = got
    params = Params(**{k: getattr(args, k) for k in vars(Params())})
    from monitor.learning.fit import learn
    from monitor.learning.write import render, sha256

    weak = [] if args.no_weak else data.weak_negatives()
    record: dict[str, Any] = {
        "command": _command(args, params),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": [{"file": str(f), "sha256": sha256(f), "records": _records(f)}
                   for f in args.labels],
    }
    if weak:
        record["weak_negatives"] = {
            "file": THUCNEWS_FILE, "sha256": sha256(data.root / THUCNEWS_FILE),
            "texts": len(weak), "why": "not incidents by corpus topic (not read); topics other "
            f"than {', '.join(sorted(LABELLED_TOPICS))}",
        }  # fmt: skip
    from monitor.config.lexicon import triggers_path

    lexicon = triggers_path(cfg)
    record["lexicon"] = {"file": lexicon.name, "sha256": sha256(lexicon)}
    with _progress() as say:
        fitted = learn(examples + weak, cfg, params, record, progress=say)
    labels = {k: c.label for k, c in cfg.categories.items()}
    Path(args.out).write_text(render(fitted.model, labels), encoding="utf-8")
    counts = {k: len(c.terms) for k, c in fitted.model.categories.items()}
    print(f"{args.out}: min_score {fitted.model.min_score}, "
          f"{sum(counts.values())} weighted terms in {len(counts)} categories")  # fmt: skip
    return 0


def _records(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _command(args: argparse.Namespace, params: Params) -> str:
    """The command that makes this file again: inputs, output and every knob not at its
    default."""
    words = ["monitor", "learn", *args.labels, "--out", args.out]
    if args.config:
        words += ["--config", args.config]
    if args.no_weak:
        words.append("--no-weak")
    for name, value in vars(params).items():
        if value != getattr(Params(), name):
            words += [f"--{name.replace('_', '-')}", str(value)]
    return shlex.join(words)


def run_eval(args: argparse.Namespace) -> int:
    got = _inputs(args)
    if got is None:
        return 2
    cfg, data, examples = got
    from monitor.config.model import load_model
    from monitor.learning.evaluate import cross_validate, judge, report
    from monitor.learning.write import sha256

    model = load_model(cfg.classifier.model, set(cfg.categories)) if cfg.classifier.model else None
    learned = (model.learned or {}) if model else {}
    mine = {sha256(f) for f in args.labels}
    from_these = any(i.get("sha256") in mine for i in learned.get("inputs", []))
    cv = args.cv == "yes" or (args.cv == "auto" and from_these)
    if not cv or "weak_negatives" in learned:
        examples = examples + data.weak_negatives()
    params = Params(**(learned.get("params") or {})) if cv else Params()
    how = (f"{args.folds}-fold cross-validated (learn refitted per fold)" if cv
           else "the configured model as it is")  # fmt: skip
    print(f"monitor eval: {len(examples)} texts, {how}", flush=True)
    with _progress(total=len(examples)) as say:
        tick: Callable[[int], None] = getattr(say, "tick", lambda _n: None)
        if cv:
            judged = cross_validate(examples, cfg, params, args.folds, tick, say)
        else:
            judged = judge(examples, cfg, None, tick)
    for line in report(judged, data, args.worst):
        print(line)
    return 0


class _Say:
    def __init__(self, progress: Any, task: Any) -> None:
        self.progress, self.task = progress, task

    def __call__(self, message: str) -> None:
        self.progress.update(self.task, description=message)

    def tick(self, n: int) -> None:
        self.progress.advance(self.task, n)


@contextmanager
def _progress(total: int | None = None) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr (a spinner when the total is unknown)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: Sequence[Any] = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("starting", total=total)
        yield _Say(progress, task)
