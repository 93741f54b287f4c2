"""label_results on numpy arrays (what ORT returns) and on lists (Pyodide) gives the same results:
exact float values, the first of equal maxima, labels in order."""

from __future__ import annotations

import numpy as np
import pytest

from edgepack.errors import ArtifactError
from edgepack.runtime.postprocess import label_results


def test_arrays_and_lists_give_identical_results():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=64).astype(np.float32)
    from_array = label_results(probs, ["neg", "neu", "pos"])
    from_lists = label_results([[float(p) for p in row] for row in probs], ["neg", "neu", "pos"])
    assert from_array == from_lists
    for row, result in zip(probs, from_array):
        assert result["score"] == float(row.max()) and result["label"] == ["neg", "neu", "pos"][int(row.argmax())]
        assert list(result["probabilities"]) == ["neg", "neu", "pos"]
        assert all(type(v) is float for v in result["probabilities"].values())


def test_ties_take_the_first_label_like_argmax():
    rows = np.array([[0.25, 0.5, 0.25], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32)
    assert [r["label"] for r in label_results(rows, ["a", "b", "c"])] == ["b", "a", "a"]
    assert [r["label"] for r in label_results(rows, [])] == ["1", "0", "0"]


def test_a_wrong_width_or_an_empty_row_is_named():
    with pytest.raises(ArtifactError, match="2 probabilities for 3 labels"):
        label_results(np.zeros((1, 2), dtype=np.float32), ["a", "b", "c"])
    with pytest.raises(ArtifactError, match="empty probabilities row"):
        label_results(np.zeros((1, 0), dtype=np.float32), ["a"])
