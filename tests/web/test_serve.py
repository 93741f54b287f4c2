"""edgepack.web.serve over real HTTP: MIME types, isolation headers, CSP, pre-compressed copies."""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.error
import urllib.request

import brotli
import pytest
from tests.web.bundle_support import edgepack_server

from edgepack.errors import ArtifactError
from edgepack.web.serve import make_server


def _get(url, encoding=None):
    req = urllib.request.Request(url, headers={"Accept-Encoding": encoding} if encoding else {})
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers, r.read()  # an email.message.Message: case-insensitive


def test_types_headers_and_encodings(served_bundle, tiny_bundle):
    status, h, body = _get(served_bundle)
    assert status == 200 and h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin" and h["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert "script-src 'self' 'wasm-unsafe-eval'" in h["Content-Security-Policy"]
    assert "unsafe-inline" not in h["Content-Security-Policy"]
    assert body == (tiny_bundle / "index.html").read_bytes()

    wasm = served_bundle + "ort/ort-wasm-simd-threaded.wasm"
    raw = (tiny_bundle / "ort/ort-wasm-simd-threaded.wasm").read_bytes()
    _, h, body = _get(wasm, "gzip, deflate, br")
    assert h["Content-Type"] == "application/wasm" and h["Content-Encoding"] == "br" and h["Vary"] == "Accept-Encoding"
    assert brotli.decompress(body) == raw
    _, h, body = _get(wasm, "gzip")
    assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == raw
    _, h, body = _get(wasm, "br;q=0, gzip;q=0")
    assert "Content-Encoding" not in h and body == raw
    _, h, _ = _get(served_bundle + "edgepack/pipeline.mjs")
    assert h["Content-Type"].startswith("text/javascript")


def test_hidden_and_missing_files_are_404(served_bundle):
    for path in (".htaccess", "nope.txt", "../etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(served_bundle + path)
        assert err.value.code == 404


def test_stale_precompressed_copy_is_not_served(tiny_bundle, tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    target = bundle / "tokenizer.json"
    target.write_text(target.read_text().replace("[UNK]", "[UNKNOWN]"))
    os.utime(bundle / "tokenizer.json.br", (1, 1))
    with edgepack_server(bundle) as url:
        _, h, body = _get(url + "tokenizer.json", "br")
    assert "Content-Encoding" not in h and b"[UNKNOWN]" in body


def test_plain_mode_and_bad_directory(tiny_bundle, tmp_path):
    with edgepack_server(tiny_bundle, isolate=False) as url:
        _, h, _ = _get(url)
    assert "Cross-Origin-Opener-Policy" not in h and "Content-Security-Policy" in h
    with pytest.raises(ArtifactError, match="not a directory"):
        make_server(tmp_path / "missing")
    with pytest.raises(ArtifactError, match="no index.html"):
        make_server(tmp_path)
