"""`monitor learn` / `monitor eval` and the label loader, on real hand-labelled texts.

The labels are the project's (labels/*.jsonl); the texts are read from ../shared/data at run
time, so the data-backed tests skip when it is absent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.config import DEFAULT_CONFIG, load_config
from monitor.config.loader import ConfigError
from monitor.learning.data import (
    DataUnavailable,
    LabelError,
    SharedData,
    read_labels,
)
from monitor.service import Classifier

LABELS = Path(__file__).resolve().parents[2] / "labels"
FAST = ["--no-weak", "--per-category", "40", "--candidates", "3000", "--max-iter", "60"]


def subset(tmp_path: Path, per_corpus: int = 120) -> Path:
    """The first labels of each corpus file: real texts, read by a person."""
    lines = []
    for name in ("ced", "thucnews", "cec"):
        with open(LABELS / f"{name}.jsonl", encoding="utf-8") as f:
            lines += [line for _, line in zip(range(per_corpus), f, strict=False)]
    out = tmp_path / "subset.jsonl"
    out.write_text("".join(lines), encoding="utf-8")
    return out


def city_with_model(tmp_path: Path, model: Path) -> Path:
    """The shipped city file, naming another model file."""
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^(\s*model:).*$", rf"\1 {model}", text)
    assert n == 1, "the shipped city file names its model once"
    text = re.sub(r"(?m)^(\s*triggers:)\s*(\S+)", lambda m: f"{m[1]} {DEFAULT_CONFIG.parent / m[2]}", text)
    city = tmp_path / "city.yaml"
    city.write_text(text, encoding="utf-8")
    return city


@pytest.fixture(scope="module")
def learned(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(labels, model): `monitor learn` on a real-labelled subset, once for the module."""
    tmp_path = tmp_path_factory.mktemp("learn")
    labels = subset(tmp_path)
    out = tmp_path / "model.yaml"
    assert main(["learn", str(labels), "--out", str(out), *FAST]) == 0
    return labels, out


def test_learn_writes_a_model_that_loads_and_classifies(
    shared_data: Path, tmp_path: Path, learned: tuple[Path, Path]
) -> None:
    labels, out = learned
    text = out.read_text(encoding="utf-8")
    # the header says how to make it again: the command, its input and the input's digest
    import hashlib

    digest = hashlib.sha256(labels.read_bytes()).hexdigest()
    assert f"# input:   {labels}  sha256 {digest}" in text
    assert f"# command: monitor learn {labels} --out {out} {' '.join(FAST)}" in text
    city = city_with_model(tmp_path, out)
    assert main(["check-config", str(city)]) == 0
    cfg = load_config(city)
    clf = Classifier.from_config(cfg)
    data = SharedData.locate(shared_data)
    examples = data.join(read_labels([labels]))
    right = sum(clf.classify_text(e.id, e.text).is_incident == e.is_incident for e in examples)
    # its own training texts, through the worker's path: far above always-"none" (~55% here)
    assert right / len(examples) >= 0.85
    incidents = [e for e in examples if e.is_incident]
    cats = sum(clf.classify_text(e.id, e.text).category == e.category for e in incidents)
    assert cats / len(incidents) >= 0.8


def test_eval_cross_validates_a_model_learned_from_the_same_labels(
    tmp_path: Path, learned: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    labels, out = learned
    city = city_with_model(tmp_path, out)
    capsys.readouterr()
    assert main(["eval", str(labels), "--config", str(city), "--folds", "2", "--worst", "3"]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validated" in printed
    assert re.search(r"all\s+precision \d\.\d{3}\s+recall \d\.\d{3}\s+F1", printed)
    assert "confusion" in printed and "casualty agreement on 120 CEC reports" in printed
    assert "the 3 worst of" in printed


def test_a_reserved_idx_is_refused(shared_data: Path, tmp_path: Path) -> None:
    reserved = (shared_data / "corpora/ced_reserved_idx.txt").read_text().split()
    idx = next(w for w in reserved if w.isdigit())
    path = tmp_path / "labels.jsonl"
    record = {"corpus": "ced", "id": idx, "is_incident": False, "category": "none",
              "borderline": False, "foreign": False}  # fmt: skip
    path.write_text("\n" + json.dumps(record) + "\n", encoding="utf-8")
    labels = read_labels([path])
    with pytest.raises(LabelError, match=rf"^{re.escape(str(path))}:2: CED idx {idx} is reserved"):
        SharedData.locate(shared_data).join(labels)


GOOD = {"corpus": "cec", "id": "x", "is_incident": True, "category": "fire", "borderline": False,
        "foreign": False}  # fmt: skip


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        (json.dumps([1]), "expected a JSON object"),
        (json.dumps({**GOOD, "category": "flood"}), "unknown category 'flood'"),
        (json.dumps({**GOOD, "category": "none"}), "none exactly when `is_incident` is false"),
        (json.dumps({**GOOD, "is_incident": "yes"}), "`is_incident` must be true or false"),
        (json.dumps({**GOOD, "corpus": "weibo"}), "`corpus` must be one of"),
        (json.dumps({**GOOD, "corpus": "thucnews", "id": "3"}), "needs `sha`"),
        (json.dumps({**GOOD, "text": "某地发生火灾"}), "unknown field(s) text"),
        (json.dumps(GOOD), "is also labelled at"),
    ],
)
def test_bad_label_lines_are_rejected_with_file_and_line(
    tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(LabelError) as err:
        read_labels([path])
    assert str(err.value).startswith(f"{path}:3: ")
    assert reason in str(err.value)


def test_learn_skips_with_the_reason_when_the_texts_are_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YUQING_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataUnavailable, match="reference data not found"):
        SharedData.locate()
    code = main(["learn", str(LABELS / "cec.jsonl"), "--out", str(tmp_path / "m.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert "skipped: reference data not found" in err and "YUQING_SHARED_DATA" in err
    assert not (tmp_path / "m.yaml").exists()


def test_check_config_points_into_a_bad_model_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.yaml"
    model.write_text(
        "min_score: 5\ncategories:\n  fire: {terms: {火灾: 3}}\n  floods: {terms: {洪水: 2}}\n"
        "  none: {terms: {股市: 2}}\n  transport:\n    terms: {公交: two}\n",
        encoding="utf-8",
    )
    city = city_with_model(tmp_path, model)
    with pytest.raises(ConfigError):
        load_config(city)
    assert main(["check-config", str(city)]) == 1
    err = capsys.readouterr().err
    assert f"{model}:7: categories.transport.terms.公交:" in err
    model.write_text(model.read_text().replace("two", "2"), encoding="utf-8")
    assert main(["check-config", str(city)]) == 1
    assert f"{model}:4: categories.floods: category 'floods' is not in the city config" in (
        capsys.readouterr().err
    )


def test_the_shipped_model_is_learned_from_the_projects_labels() -> None:
    """Its header names the label files in labels/ with the digests they have now: a label
    changed since is a model to learn again (the command is in the header)."""
    import hashlib

    from monitor.config.model import load_model

    cfg = load_config()
    assert cfg.classifier.model is not None
    learned = load_model(cfg.classifier.model, set(cfg.categories)).learned or {}
    inputs = {Path(i["file"]).name: i["sha256"] for i in learned["inputs"]}
    assert set(inputs) == {"ced.jsonl", "thucnews.jsonl", "cec.jsonl"}
    for name, digest in inputs.items():
        assert hashlib.sha256((LABELS / name).read_bytes()).hexdigest() == digest, name
