import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from m5ser.config import load_emotions
from m5ser.train.data import load_corpus
from m5ser.train.evaluate import evaluate_corpus, trim_setting
from m5ser.train.metrics import compute_metrics
from m5ser.train.testing import EMOTIONS_FILE, repo_labels

LABELS = repo_labels()
EMOTIONS = load_emotions(EMOTIONS_FILE)

Y_TRUE = ["happy", "happy", "sad", "sad", "sad", "angry", "neutral", "neutral", "angry", "happy"]
Y_PRED = ["happy", "sad", "sad", "sad", "angry", "angry", "happy", "neutral", "fear", "happy"]


def test_metrics_match_scikit_learn():
    m = compute_metrics(Y_TRUE, Y_PRED, LABELS)
    present = [x for x in LABELS if x in Y_TRUE]
    assert m.ua == pytest.approx(recall_score(Y_TRUE, Y_PRED, labels=present, average="macro"))
    assert m.wa == pytest.approx(accuracy_score(Y_TRUE, Y_PRED))
    assert m.macro_f1 == pytest.approx(f1_score(Y_TRUE, Y_PRED, labels=present, average="macro"))
    per = recall_score(Y_TRUE, Y_PRED, labels=present, average=None)
    assert [m.recall[x] for x in present] == pytest.approx(list(per))
    assert np.array_equal(m.confusion, confusion_matrix(Y_TRUE, Y_PRED, labels=list(LABELS)))
    assert m.labels_present == present and m.chance == pytest.approx(1 / 4) and m.n == len(Y_TRUE)


def test_ua_equals_balanced_accuracy_when_predictions_stay_in_the_present_labels():
    y_pred = [p if p in Y_TRUE else "sad" for p in Y_PRED]
    assert compute_metrics(Y_TRUE, y_pred, LABELS).ua == pytest.approx(balanced_accuracy_score(Y_TRUE, y_pred))


def test_load_corpus_converts_formats_and_counts_ignored(corpus, capsys):
    clips, report = load_corpus(corpus, LABELS, EMOTIONS)
    assert len(clips) == 24 and report.n_ignored == 6 and report.ignored_labels == {"calm": 6}
    assert all(c.audio.ndim == 1 and c.audio.dtype == np.float32 for c in clips)
    # 1.2 s at any input rate -> ~1.2 s at 16 kHz (before silence trimming shortens it a little)
    assert all(15_000 < len(c.audio) <= 19_300 for c in clips)
    assert "missing-0.wav" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match=r"missing-0\.wav"):
        load_corpus(corpus, LABELS, EMOTIONS, strict=True)


def test_load_corpus_needs_labels_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"labels\.csv"):
        load_corpus(tmp_path, LABELS, EMOTIONS)


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


def test_load_corpus_reads_aliases_and_the_model_label_set(tmp_path):
    x = (0.3 * np.sin(np.arange(8000) / 7)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 22_050)
    (tmp_path / "b.wav").write_text("not audio")
    rows = ["path,emotion", "a.wav,ANG", "a.wav,Sadness", "a.wav,calm", "a.wav,fea", "b.wav,angry"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    clips, report = load_corpus(tmp_path, ("angry", "sad"), EMOTIONS)
    assert [c.emotion for c in clips] == ["angry", "sad"]
    assert report.ignored_labels == {"calm": 1, "fea": 1}  # fear is a label, but not the model's
    assert len(report.unreadable) == 1 and "b.wav" in report.unreadable[0]


def test_eval_trims_as_the_checkpoint_says(trained, corpus, tmp_path, monkeypatch):
    import m5ser.train.evaluate as evaluate

    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs["trim"])
        return load_corpus(*args, **kwargs)

    monkeypatch.setattr(evaluate, "load_corpus", spy)
    ckpt = shutil.copytree(trained.parent / "baseline", tmp_path / "baseline")
    meta = json.loads((ckpt / "meta.json").read_text())
    for trim in (True, False):
        (ckpt / "meta.json").write_text(json.dumps({**meta, "trim": trim}))
        evaluate_corpus(ckpt, corpus, tmp_path / f"{trim}.json", emotions_file=EMOTIONS_FILE)
    assert seen == [True, False]
    (ckpt / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "trim"} | {"trim_db": 40.0}))
    with pytest.raises(ValueError, match="no `trim`"):
        evaluate_corpus(ckpt, corpus, tmp_path / "old.json")


def test_trim_setting():
    assert trim_setting({"trim": False}, "ckpt") is False
    with pytest.raises(ValueError, match=r"ckpt: meta\.json"):
        trim_setting({"trim_db": 40.0}, "ckpt")


def test_closed_set_predictions_answer_among_the_corpus_labels():
    from m5ser.train.evaluate import closed_set_predictions

    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    assert closed_set_predictions(scores, ("a", "b", "c"), ["a", "c"]) == ["c", "a", "c"]
    with pytest.raises(ValueError, match="none of"):
        closed_set_predictions(scores, ("a", "b", "c"), ["z"])


def test_eval_default_scores_among_the_corpus_labels_and_reports_open_set(trained, corpus, tmp_path):
    closed = evaluate_corpus(trained, corpus, tmp_path / "c.json")
    opened = evaluate_corpus(trained, corpus, tmp_path / "o.json", open_set=True)
    present = {"neutral", "happy", "sad", "angry"}
    assert closed["label_set"] == "corpus" and set(closed["corpus_labels"]) == present
    assert opened["label_set"] == "open" and opened["ua"] == opened["ua_open_set"] == closed["ua_open_set"]
    labels = closed["labels"]
    predicted = {labels[j] for row in closed["confusion"] for j, n in enumerate(row) if n}
    assert predicted <= present  # never a label the corpus does not have
    assert closed["ua"] >= closed["ua_open_set"] - 1e-9  # restricting can only remove wrong answers here
