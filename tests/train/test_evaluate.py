import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from m5ser.train.data import load_corpus
from m5ser.train.evaluate import compute_metrics, evaluate_corpus
from m5ser.train.labels import DEFAULT_EMOTIONS

Y_TRUE = ["happy", "happy", "sad", "sad", "sad", "angry", "neutral", "neutral", "angry", "happy"]
Y_PRED = ["happy", "sad", "sad", "sad", "angry", "angry", "happy", "neutral", "fear", "happy"]


def test_metrics_match_scikit_learn():
    m = compute_metrics(Y_TRUE, Y_PRED, DEFAULT_EMOTIONS)
    present = [x for x in DEFAULT_EMOTIONS if x in Y_TRUE]
    assert m.ua == pytest.approx(recall_score(Y_TRUE, Y_PRED, labels=present, average="macro"))
    assert m.wa == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))
    assert m.macro_f1 == pytest.approx(f1_score(Y_TRUE, Y_PRED, labels=present, average="macro"))
    per = recall_score(Y_TRUE, Y_PRED, labels=present, average=None)
    assert [m.recall[x] for x in present] == pytest.approx(list(per))
    assert np.array_equal(m.confusion, confusion_matrix(Y_TRUE, Y_PRED, labels=list(DEFAULT_EMOTIONS)))
    assert m.labels_present == present and m.chance == pytest.approx(1 / 4) and m.n == len(Y_TRUE)


def test_ua_equals_balanced_accuracy_when_predictions_stay_in_the_present_labels():
    y_pred = [p if p in Y_TRUE else "sad" for p in Y_PRED]
    assert compute_metrics(Y_TRUE, y_pred, DEFAULT_EMOTIONS).ua == pytest.approx(
        balanced_accuracy_score(Y_TRUE, y_pred)
    )


def test_load_corpus_converts_formats_and_counts_ignored(corpus, capsys):
    clips, report = load_corpus(corpus, DEFAULT_EMOTIONS)
    assert len(clips) == 24 and report.n_ignored == 6 and report.ignored_labels == {"calm": 6}
    assert all(c.audio.ndim == 1 and c.audio.dtype == np.float32 for c in clips)
    # 1.2 s at any input rate -> ~1.2 s at 16 kHz (before silence trimming shortens it a little)
    assert all(15_000 < len(c.audio) <= 19_300 for c in clips)
    assert "missing-0.wav" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match=r"missing-0\.wav"):
        load_corpus(corpus, DEFAULT_EMOTIONS, strict=True)


def test_load_corpus_needs_labels_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"labels\.csv"):
        load_corpus(tmp_path, DEFAULT_EMOTIONS)


@pytest.mark.parametrize("norm", ["none", "corpus", "speaker"])
def test_evaluate_corpus_contract(trained, corpus, tmp_path, norm):
    out = tmp_path / "res" / "eval.json"
    result = evaluate_corpus(trained, corpus, out, norm=norm)
    for key in ("ua", "wa", "macro_f1", "n", "n_ignored", "recall"):
        assert key in result
    assert result["n"] == 24 and result["n_ignored"] == 6 and result["n_missing"] == 1
    assert set(result["recall"]) == {"neutral", "happy", "sad", "angry"}
    assert json.loads(out.read_text()) == result
    assert (tmp_path / "res" / "eval_confusion.png").stat().st_size > 1000


def test_evaluate_baseline_checkpoint(trained, corpus, tmp_path):
    result = evaluate_corpus(trained.parent / "baseline", corpus, tmp_path / "b.json")
    assert result["predict"] == "logreg" and result["ua"] > 0.5  # tones are easy for eGeMAPS


def test_evaluate_rejects_non_checkpoint(tmp_path, corpus):
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        evaluate_corpus(tmp_path, corpus)
