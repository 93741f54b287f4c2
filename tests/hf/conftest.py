"""Session-scoped tiny HF folders, each exported once (per xdist worker)."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from tests.hf.hf_tiny import make_folder, write_project  # noqa: E402


def _exported(tmp_path_factory, name, *, kind="bert", task="feature-extraction", pooling="mean", extra="",
              max_length=None, **folder_kw):
    from edgepack.export import export_project

    root = tmp_path_factory.mktemp(name)
    folder = make_folder(root / "model", kind=kind, task=task, pooling=pooling, **folder_kw)
    project = write_project(root, folder, task=task, extra=extra, max_length=max_length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_project(project)
    return project, folder, result


@pytest.fixture(scope="session")
def bert_mean(tmp_path_factory):
    """BERT + sentence-transformers mean pooling + Normalize (the MiniLM recipe); max_length beyond the
    model's 64 positions, to be capped."""
    return _exported(tmp_path_factory, "bert-mean", pooling="mean", max_length=4096)


@pytest.fixture(scope="session")
def bert_cls_legacy(tmp_path_factory):
    """CLS pooling in the sentence-transformers < 6 format, no Normalize module."""
    return _exported(tmp_path_factory, "bert-cls", pooling="cls", legacy_pooling=True, normalize=False)


@pytest.fixture(scope="session")
def bert_classifier(tmp_path_factory):
    return _exported(tmp_path_factory, "bert-clf", task="text-classification", pooling=None)


@pytest.fixture(scope="session")
def distilbert_mean(tmp_path_factory):
    return _exported(tmp_path_factory, "distilbert-mean", kind="distilbert", pooling="mean")


@pytest.fixture(scope="session")
def roberta_classifier(tmp_path_factory):
    return _exported(tmp_path_factory, "roberta-clf", kind="roberta", task="text-classification", pooling=None)


@pytest.fixture(scope="session")
def sentence_transformer():
    """Load a folder with sentence-transformers, offline (the reference implementation)."""
    from sentence_transformers import SentenceTransformer

    def load(folder):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=False)

    return load
