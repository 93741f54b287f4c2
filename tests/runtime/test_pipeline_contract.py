"""The runtime's contract: what predict/__call__/encode accept, the one result shape, and the refusal
of a model whose outputs cannot answer its task. No torch needed (artifacts made with onnx.helper);
the last test runs the runtime with torch and onnx unimportable."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgepack.errors import ArtifactError, EdgepackError
from edgepack.runtime.pipeline import Pipeline
from edgepack.runtime.postprocess import (TextInputError, check_golden_probabilities, check_outputs, label_results,
                                          text_batch)
from tests.runtime.misfits_support import MISFIT_MESSAGES
from tests.isolation_support import BLOCKER
from tests.web.tiny_artifact_support import DIM, LABELS, TEXTS

LONG = "This movie was great and the music was wonderful"  # 49 characters: never 49 results


@pytest.fixture(scope="module")
def clf(classifier):
    return Pipeline.load(classifier)


@pytest.fixture(scope="module")
def emb(embedder):
    return Pipeline.load(embedder)


# ---------------------------------------------------------------- predict(str) is one text
@pytest.mark.parametrize("which", ["clf", "emb"])
def test_predict_str_is_predict_list_first(request, which):
    pipe = request.getfixturevalue(which)
    one = pipe.predict(LONG)
    assert isinstance(one, dict), "a str is one text, not a list of characters"
    assert one == pipe.predict([LONG])[0]
    many = pipe.predict(TEXTS)
    assert isinstance(many, list) and len(many) == len(TEXTS)
    assert pipe.predict(tuple(TEXTS)) == many
    assert pipe.predict([]) == [] and pipe.predict(()) == []


def test_call_and_encode_take_a_str_as_a_batch_of_one(clf):
    feeds = clf.encode(LONG)
    assert feeds["input_ids"].shape[0] == 1
    assert {k: v.tolist() for k, v in feeds.items()} == {k: v.tolist() for k, v in clf.encode([LONG]).items()}
    raw = clf(LONG)
    assert list(raw) == ["probabilities"] and raw["probabilities"].shape == (1, len(LABELS))
    np.testing.assert_array_equal(raw["probabilities"], clf([LONG])["probabilities"])
    # __call__ is the raw outputs; predict names them.
    assert clf.predict(LONG)["probabilities"] == dict(zip(LABELS, raw["probabilities"][0].tolist()))


def test_pairs_in_a_batch(clf):
    pair = clf.predict([("great film", "awful ending")])
    assert len(pair) == 1 and pair[0] != clf.predict("great film")
    assert clf.predict([["great film", "awful ending"]]) == pair


@pytest.mark.parametrize("bad, where", [
    (b"great movie", "texts: expected a str or a list of str, got bytes"),
    (None, "got NoneType"),
    (42, "got int"),
    ({"text": "great"}, "got dict"),
    (iter(["great"]), "got list_iterator"),
    (["great", None], "texts[1]: expected a str"),
    (["great", b"awful"], "texts[1]"),
    ([["a", "b", "c"]], "texts[0]"),
    ([("a", 1)], "texts[0]"),
])
def test_anything_else_is_a_typed_error_naming_the_argument(clf, bad, where):
    for call in (clf.predict, clf, clf.encode):
        with pytest.raises(TextInputError) as info:
            call(bad)
        assert where in str(info.value)
        assert isinstance(info.value, TypeError) and isinstance(info.value, EdgepackError)
        assert info.value.exit_code == 2


def test_text_batch_never_iterates_a_string():
    assert text_batch("abc") == (["abc"], True)
    assert text_batch("") == ([""], True)
    assert text_batch(["abc"]) == (["abc"], False)


# ---------------------------------------------------------------- one result shape
def test_classification_result_shape(clf):
    for text, r in zip(TEXTS + [""], clf.predict(TEXTS + [""])):
        assert list(r) == ["label", "score", "probabilities"], text
        assert list(r["probabilities"]) == LABELS  # label order
        assert all(type(p) is float for p in r["probabilities"].values())
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
        assert r["score"] == r["probabilities"][r["label"]]
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-5
        assert json.loads(json.dumps(r)) == r


def test_embedding_result_shape(emb):
    for r in emb.predict(TEXTS):
        assert list(r) == ["embedding"]
        assert len(r["embedding"]) == DIM and all(type(x) is float for x in r["embedding"])
        assert abs(np.linalg.norm(r["embedding"]) - 1) < 1e-5
        assert json.loads(json.dumps(r)) == r


def test_results_equal_the_golden_vectors(clf, emb):
    for pipe, key in ((clf, "probabilities"), (emb, "embeddings")):
        for g in pipe.manifest.golden:
            got = pipe.predict(g["text"])
            got = list(got["probabilities"].values()) if key == "probabilities" else got["embedding"]
            np.testing.assert_allclose(got, g["outputs"]["fp32"][key], atol=1e-6)


# ---------------------------------------------------------------- outputs must fit the task
@pytest.mark.parametrize("case, message", sorted(MISFIT_MESSAGES.items()))
def test_model_that_cannot_answer_its_task_is_refused_at_load(misfits, case, message):
    with pytest.raises(ArtifactError) as info:
        Pipeline.load(misfits[case])
    text = str(info.value)
    assert message in text, text
    if case in ("logits-output", "classifier-as-embedder"):
        found = "logits" if case == "logits-output" else "probabilities"
        assert text.endswith(f"the model's outputs are: {found}"), text  # names what it found
    assert info.value.exit_code == 5


def test_golden_probability_check():
    good = [{"outputs": {"fp32": {"probabilities": [0.2, 0.8]}, "int8": {"probabilities": [[0.2004, 0.7999]]}}}]
    check_golden_probabilities(good, "probabilities", "manifest.json")
    for row in ([2.0, -1.0], [0.5, 0.6], [1.5, -0.5], [float("nan"), 1.0]):
        with pytest.raises(ArtifactError, match=r"manifest.json: golden\[0\] fp32 'probabilities' sums to"):
            check_golden_probabilities([{"outputs": {"fp32": {"probabilities": row}}}], "probabilities", "manifest.json")


# ---------------------------------------------------------------- without torch or onnx
def test_contract_holds_with_torch_and_onnx_unimportable(classifier, misfits):
    code = BLOCKER + textwrap.dedent(f"""
        import json
        from edgepack.errors import ArtifactError
        from edgepack.runtime.pipeline import Pipeline
        from edgepack.runtime.postprocess import TextInputError
        pipe = Pipeline.load({str(classifier)!r})
        one = pipe.predict({LONG!r})
        assert one == pipe.predict([{LONG!r}])[0]
        try:
            pipe.predict(b"x")
            raise SystemExit("bytes accepted")
        except TextInputError:
            pass
        try:
            Pipeline.load({str(misfits["logits-output"])!r})
            raise SystemExit("logits accepted")
        except ArtifactError as err:
            refused = str(err)
        bad = [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxscript")]
        assert not bad, bad
        print(json.dumps({{"keys": list(one), "refused": refused}}))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["keys"] == ["label", "score", "probabilities"]
    assert "the model's outputs are: logits" in out["refused"]


# ---------------------------------------------------------------- the cases JS is held to as well
CASES = json.loads((Path(__file__).with_name("contract_cases.json")).read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["text_batch"], ids=lambda c: json.dumps(c["texts"])[:40])
def test_shared_text_batch_cases(case):
    if "error" in case:
        with pytest.raises(TextInputError, match=re.escape(case["error"])):
            text_batch(case["texts"])
    else:
        assert text_batch(case["texts"]) == (case["items"], case["single"])


@pytest.mark.parametrize("case", CASES["check_outputs"], ids=lambda c: f"{c['task']}-{','.join(c['outputs'])}")
def test_shared_check_outputs_cases(case):
    args = (case["task"], case["outputs"], case["labels"], "model.onnx")
    if "error" in case:
        with pytest.raises(ArtifactError, match=re.escape(case["error"])):
            check_outputs(*args)
    else:
        assert check_outputs(*args) == case["output"]


@pytest.mark.parametrize("case", CASES["golden_probabilities"], ids=lambda c: json.dumps(c["row"]))
def test_shared_golden_probability_cases(case):
    golden = [{"outputs": {"fp32": {"probabilities": case["row"]}}}]
    call = lambda: check_golden_probabilities(golden, "probabilities", "manifest.json", case.get("labels"))  # noqa: E731
    if case.get("ok"):
        call()
    else:
        with pytest.raises(ArtifactError, match=re.escape(case.get("error", "are not probabilities"))):
            call()


@pytest.mark.parametrize("case", CASES["label_result"], ids=lambda c: json.dumps(c["row"]))
def test_shared_label_result_cases(case):
    if "error" in case:
        with pytest.raises(ArtifactError, match=re.escape(case["error"])):
            label_results([case["row"]], case["labels"])
    else:
        assert label_results([case["row"]], case["labels"]) == [case["result"]]


def test_empty_batch_is_refused_before_onnx_runtime(clf):
    """ORT aborts the process on a zero-row batch of some int8 graphs: never hand it one."""
    assert clf.predict([]) == []
    with pytest.raises(TextInputError, match="empty batch"):
        clf([])
    with pytest.raises(TextInputError, match="empty batch"):
        clf.run(clf.encode([]))
