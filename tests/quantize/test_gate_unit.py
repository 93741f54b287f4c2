"""The gate's arithmetic on known arrays (classification and embeddings)."""

from __future__ import annotations

import numpy as np

from edgepack.quantize.gate import DEFAULTS, Thresholds, evaluate

LIMITS = Thresholds(**DEFAULTS)


def test_classification_metrics_and_failures():
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    cand = np.array([[0.88, 0.12], [0.2, 0.8], [0.45, 0.55], [0.3, 0.7]])  # row 2 flips
    result = evaluate("text-classification", ref, cand, [0, 1, 0, 1], LIMITS)
    m = result.metrics
    assert m["agreement"] == 0.75
    assert np.isclose(m["max_prob_delta"], 0.15) and np.isclose(m["mean_prob_delta"], (0.02 * 2 + 0.15 * 2) / 8)
    assert m["accuracy_fp32"] == 1.0 and m["accuracy_quantized"] == 0.75
    assert not result.ok
    assert any("agreement 75.00%" in f for f in result.failures)
    assert any("accuracy drop 25.00%" in f for f in result.failures)
    assert evaluate("text-classification", ref, ref, [0, 1, 0, 1], LIMITS).ok


def test_prob_delta_is_gated_only_when_set():
    ref = np.array([[0.9, 0.1]])
    cand = np.array([[0.8, 0.2]])
    assert evaluate("text-classification", ref, cand, None, LIMITS).ok
    strict = Thresholds(**{**DEFAULTS, "max_prob_delta": 0.05})
    result = evaluate("text-classification", ref, cand, None, strict)
    assert not result.ok and "max_prob_delta" in result.failures[0]


def test_embeddings_use_cosine():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(16, 8))
    close = ref + rng.normal(scale=1e-3, size=ref.shape)
    assert evaluate("feature-extraction", ref, close, None, LIMITS).ok
    far = ref.copy()
    far[3] = -far[3]
    result = evaluate("feature-extraction", ref, far, None, LIMITS)
    assert not result.ok and np.isclose(result.metrics["min_cosine"], -1.0)
    assert "min_cosine" in result.failures[0]
