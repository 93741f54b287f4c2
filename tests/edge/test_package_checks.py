"""Hostile Raspberry Pi packages: `check_package` (deploy's pre-check), `edgepack inspect` and the
real install.sh refuse every archive member that is not a regular file or directory inside the
package, duplicates and anything SHA256SUMS does not list -- one test per refusal class.

The archives are made from a real package of the sample (built once with the cached aarch64
wheelhouse), re-packed without its wheels so each variant takes milliseconds; SHA256SUMS is
re-sealed after the change where the test is about the member itself, so only the rule under
test can refuse it. install.sh runs for real (sh, `tar xzf` as the README says) with the host's
python3 for its member check: the check comes before the architecture test, so a clean package
gets as far as "this system is x86_64" (exit 4) and a hostile one is refused (exit 3) first.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from edgepack.edge.deploy import check_package, deploy
from edgepack.errors import ArtifactError
from edgepack.inspection import inspect_artifact
from tests.repo_support import run_cli

Entry = tuple  # (TarInfo, bytes | None)


# ---------------------------------------------------------------------------------- archives


@pytest.fixture(scope="session")
def real_package(sentiment_project, aarch64_wheelhouse, tmp_path_factory) -> Path:
    from edgepack.edge.package import build_package

    out = tmp_path_factory.mktemp("pkg-checks")
    return build_package(sentiment_project / "build", out, precision="fp32", python="3.11",
                         wheelhouses={"3.11": aarch64_wheelhouse.path}).path


def _read(archive: Path) -> list[Entry]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]


@pytest.fixture(scope="session")
def slim(real_package) -> list[Entry]:
    """The real package's members without the wheels (SHA256SUMS re-sealed)."""
    return _reseal([(m, d) for m, d in _read(real_package) if not m.name.endswith(".whl")])


def _top(entries) -> str:
    return entries[0][0].name.rstrip("/")


def _reseal(entries, skip: tuple[str, ...] = ()) -> list[Entry]:
    top = _top(entries)
    lines = [f"{hashlib.sha256(d).hexdigest()}  {m.name[len(top) + 1:]}\n" for m, d in entries
             if m.isfile() and not m.name.endswith("/SHA256SUMS") and m.name not in skip]
    return [(m, d) if not m.name.endswith("/SHA256SUMS") else _file(m.name, "".join(lines).encode())
            for m, d in entries]


def _file(name: str, data: bytes) -> Entry:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


def _pack(entries, dest: Path) -> Path:
    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def _sums(entries) -> str:
    return next(d for m, d in entries if m.name.endswith("/SHA256SUMS")).decode()


def _with_sums(entries, text: str) -> list[Entry]:
    top = _top(entries)
    return [(m, d) if not m.name.endswith("/SHA256SUMS") else _file(f"{top}/SHA256SUMS", text.encode())
            for m, d in entries]


# Each case: the hostile member(s) and the words the refusal must contain. `sealed`: SHA256SUMS
# re-computed after the change (so only the member rule can catch it).
def _symlink(e):
    return _reseal(e + [_special(f"{_top(e)}/model/labels.txt", tarfile.SYMTYPE, "/etc/passwd")])


def _symlink_install_sh(e):
    # after extraction the later member wins: install.sh would run /tmp/evil.sh
    return e + [_special(f"{_top(e)}/install.sh", tarfile.SYMTYPE, "/tmp/evil.sh")]


def _hardlink(e):
    return _reseal(e + [_special(f"{_top(e)}/model/alias.onnx", tarfile.LNKTYPE, "/etc/shadow")])


def _chardev(e):
    info, _ = _special(f"{_top(e)}/model/zero", tarfile.CHRTYPE)
    info.devmajor, info.devminor = 1, 5
    return _reseal(e + [(info, None)])


def _blockdev(e):
    info, _ = _special(f"{_top(e)}/model/disk", tarfile.BLKTYPE)
    info.devmajor, info.devminor = 8, 0
    return _reseal(e + [(info, None)])


def _fifo(e):
    return _reseal(e + [_special(f"{_top(e)}/model/pipe", tarfile.FIFOTYPE)])


def _dotdot(e):
    return _reseal(e + [_file(f"{_top(e)}/../escaped.sh", b"#!/bin/sh\n")])


def _absolute(e):
    return e + [_file("/etc/cron.d/edgepack", b"* * * * * root true\n")]


def _second_top(e):
    return e + [_file("other-package/install.sh", b"#!/bin/sh\n")]


def _duplicate(e):
    model = next(m.name for m, _ in e if m.name.endswith(".onnx"))
    return e + [_file(model, b"not the model")]


def _deep(e):
    return e + [_file(f"{_top(e)}/" + "d/" * 40 + "f", b"x")]


HOSTILE_MEMBERS = {
    "symlink": (_symlink, ["model/labels.txt", "symbolic link", "/etc/passwd"]),
    "symlink-install-sh": (_symlink_install_sh, ["install.sh", "symbolic link"]),
    "hardlink": (_hardlink, ["model/alias.onnx", "hard link", "/etc/shadow"]),
    "char-device": (_chardev, ["model/zero", "character device"]),
    "block-device": (_blockdev, ["model/disk", "block device"]),
    "fifo": (_fifo, ["model/pipe", "FIFO"]),
    "dotdot": (_dotdot, ["escaped.sh", "outside the package"]),
    "absolute": (_absolute, ["/etc/cron.d/edgepack", "outside the package"]),
    "second-top-directory": (_second_top, ["other-package/install.sh", "outside the package"]),
    "duplicate": (_duplicate, ["model.fp32.onnx", "appears twice"]),
    "too-deep": (_deep, ["nested more than"]),
}


def _unlisted(e):
    return e + [_file(f"{_top(e)}/runtime/edgepack/sitecustomize.py", b"import os\n")]


def _missing(e):
    return [(m, d) for m, d in e if not m.name.endswith("/bench/spec.json")]


def _sums_escape(e):
    return _with_sums(e, _sums(e) + f"{'0' * 64}  ../../etc/passwd\n")


def _sums_absolute(e):
    return _with_sums(e, _sums(e) + f"{'0' * 64}  /etc/passwd\n")


def _sums_duplicate(e):
    first = _sums(e).splitlines()[0]
    return _with_sums(e, _sums(e) + first + "\n")


def _sums_lists_itself(e):
    return _with_sums(e, _sums(e) + f"{'0' * 64}  SHA256SUMS\n")


def _sums_garbage(e):
    return _with_sums(e, _sums(e) + "this is not a checksum line\n")


def _no_sums(e):
    return [(m, d) for m, d in e if not m.name.endswith("/SHA256SUMS")]


SUMS_FAULTS = {  # SHA256SUMS does not describe the files: structural ones refuse, coverage ones are problems
    "unlisted-file": (_unlisted, ["runtime/edgepack/sitecustomize.py", "not listed in SHA256SUMS"]),
    "listed-file-missing": (_missing, ["bench/spec.json", "listed in SHA256SUMS but not in the package"]),
    "sums-path-escapes": (_sums_escape, ["../../etc/passwd", "outside the package"]),
    "sums-absolute-path": (_sums_absolute, ["/etc/passwd", "outside the package"]),
    "sums-duplicate-line": (_sums_duplicate, ["a second time"]),
    "sums-lists-itself": (_sums_lists_itself, ["'SHA256SUMS'", "itself"]),
    "sums-garbage-line": (_sums_garbage, ["not '<sha256>  <path>'"]),
    "no-sums": (_no_sums, ["no SHA256SUMS"]),
}
COVERAGE = {"unlisted-file", "listed-file-missing"}


def _refused(fn, *args) -> str:
    with pytest.raises(ArtifactError) as err:
        fn(*args)
    return str(err.value)


# ---------------------------------------------------------------------------------- check_package


def test_the_real_package_passes(real_package):
    assert check_package(real_package) == real_package.name[: -len(".tar.gz")]


@pytest.mark.parametrize("case", sorted({**HOSTILE_MEMBERS, **SUMS_FAULTS}))
def test_check_package_refuses(case, slim, tmp_path):
    make, words = {**HOSTILE_MEMBERS, **SUMS_FAULTS}[case]
    assert check_package(_pack(slim, tmp_path / "clean.tar.gz"))  # the variant differs only by `make`
    archive = _pack(make(list(slim)), tmp_path / f"{case}.tar.gz")
    message = _refused(check_package, archive)
    assert str(archive) in message
    for word in words:
        assert word in message, message


def test_deploy_sends_nothing_hostile(slim, tmp_path):
    # port 1: were anything sent, ssh would fail with a TargetError instead
    hostile = _pack(_symlink_install_sh(list(slim)), tmp_path / "hostile.tar.gz")
    assert "symbolic link" in _refused(deploy, hostile, "root@127.0.0.1", 1)


def test_check_package_refuses_a_changed_file(slim, tmp_path):
    entries = [(m, d[:-1] + bytes([d[-1] ^ 1]) if m.name.endswith(".onnx") else d) for m, d in slim]
    message = _refused(check_package, _pack(entries, tmp_path / "flipped.tar.gz"))
    assert "model/model.fp32.onnx: FAILED" in message


def test_a_huge_declared_member_is_refused_by_its_header(slim, tmp_path):
    # A "zip bomb": the header says 5 TiB; nothing after it is read (the archive is tiny).
    info = tarfile.TarInfo(f"{_top(slim)}/model/huge.onnx")
    info.size = 5 << 40
    head = b""
    for m, d in slim[:3]:
        head += m.tobuf(tarfile.PAX_FORMAT) + (d or b"") + b"\0" * (-len(d or b"") % 512)
    head += info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 4096
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip.compress(head, compresslevel=1))
    message = _refused(check_package, archive)
    assert "model/huge.onnx" in message and "declares 5497558138880 bytes" in message


def test_a_huge_extended_header_is_refused_before_it_is_read(slim, tmp_path):
    # tarfile would read a pax header's payload into memory in one piece: 5 TiB of it here
    pax = tarfile.TarInfo(f"{_top(slim)}/@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, 5 << 40
    archive = tmp_path / "pax-bomb.tar.gz"
    archive.write_bytes(gzip.compress(slim[0][0].tobuf(tarfile.GNU_FORMAT) + pax.tobuf(tarfile.GNU_FORMAT)
                                      + b"\0" * 8192, compresslevel=1))
    message = _refused(check_package, archive)
    assert str(archive) in message and "extended (pax / long-name) header declares 5497558138880 bytes" in message


@pytest.mark.parametrize("how", ["truncated", "not-gzip", "gzip-not-tar", "empty"])
def test_unreadable_archives(how, real_package, tmp_path):
    bad = tmp_path / "bad.tar.gz"
    data = real_package.read_bytes()
    bad.write_bytes({"truncated": data[: len(data) // 3], "not-gzip": b"PK\x03\x04" + data[4:4096],
                     "gzip-not-tar": gzip.compress(b"just text " * 100), "empty": b""}[how])
    message = _refused(check_package, bad)
    assert str(bad) in message and ("not a readable .tar.gz" in message or "empty" in message), message


def _finishes(fn, *args, timeout: float = 20):
    """Run fn in a thread: a read that blocks (a FIFO) must not hang the test run."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__}{args} did not return within {timeout}s"
    return box


@pytest.mark.parametrize("what", ["directory", "fifo", "dev-zero", "missing", "symlink-to-nowhere"])
def test_not_a_package_file(what, tmp_path):
    path = {"directory": tmp_path, "fifo": tmp_path / "pipe.tar.gz", "dev-zero": Path("/dev/zero"),
            "missing": tmp_path / "nope.tar.gz", "symlink-to-nowhere": tmp_path / "dangling.tar.gz"}[what]
    if what == "fifo":
        os.mkfifo(path)
    if what == "symlink-to-nowhere":
        path.symlink_to(tmp_path / "gone")
    for fn in (check_package, inspect_artifact):
        box = _finishes(fn, path)
        assert isinstance(box.get("error"), ArtifactError), (fn.__name__, box)
        assert str(path) in str(box["error"])


# ---------------------------------------------------------------------------------- inspect


def test_inspect_reads_the_package_without_unpacking(real_package, tmp_path):
    report = inspect_artifact(real_package)
    pkg = report["package"]
    assert report["kind"] == "rpi-package" and report["integrity"] == "ok"
    assert report["manifest"]["model"]["name"] == "sentiment" and report["golden_vectors"] >= 5
    assert [m["file"] for m in report["models"]] == ["model/model.fp32.onnx"]
    assert "LSTM" in report["models"][0]["op_types"]
    house = pkg["wheelhouse"]["3.11"]
    assert house["requirements"][0].startswith("onnxruntime==")
    assert any(w.startswith("onnxruntime-") for w in house["wheels"])
    assert pkg["archive_bytes"] == real_package.stat().st_size and pkg["unpacked_bytes"] > pkg["archive_bytes"] * 0.9
    assert pkg["env"]["EDGEPACK_NAME"] == "sentiment"
    # the unpacked directory gives the same report (but its own path and no archive size)
    subprocess.run(["tar", "xzf", str(real_package), "-C", str(tmp_path)], check=True)
    unpacked = inspect_artifact(tmp_path / pkg["top"])
    assert unpacked["integrity"] == "ok" and unpacked["package"]["archive_bytes"] is None
    assert unpacked["models"] == report["models"] and unpacked["package"]["wheelhouse"] == pkg["wheelhouse"]


@pytest.mark.parametrize("case", sorted(HOSTILE_MEMBERS))
def test_inspect_refuses_hostile_members(case, slim, tmp_path):
    make, words = HOSTILE_MEMBERS[case]
    message = _refused(inspect_artifact, _pack(make(list(slim)), tmp_path / f"{case}.tar.gz"))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("case", sorted(COVERAGE))
def test_inspect_reports_integrity_problems(case, slim, tmp_path):
    make, words = SUMS_FAULTS[case]
    report = inspect_artifact(_pack(make(list(slim)), tmp_path / f"{case}.tar.gz"))
    for word in words:
        assert word in report["integrity"]


def test_inspect_checks_the_manifest_digests(slim, tmp_path):
    # SHA256SUMS re-sealed after the model changed: only the manifest's sha256 can tell
    entries = _reseal([(m, d[:-1] + bytes([d[-1] ^ 1]) if m.name.endswith(".onnx") else d) for m, d in slim])
    report = inspect_artifact(_pack(entries, tmp_path / "resealed.tar.gz"))
    assert report["integrity"] == "model/model.fp32.onnx: sha256 does not match the manifest"
    assert inspect_artifact(tmp_path / "resealed.tar.gz", verify=False)["integrity"] == "not checked"


def test_inspect_cli_on_packages(real_package, slim, tmp_path):
    ok = run_cli("inspect", str(real_package), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["package"]["wheelhouse"]["3.11"]["wheels"]
    text = run_cli("inspect", str(real_package))
    assert "wheelhouse for Python 3.11" in text.stdout and "integrity: ok" in text.stdout
    hostile = _pack(_symlink_install_sh(list(slim)), tmp_path / "hostile.tar.gz")
    bad = run_cli("inspect", str(hostile), "--json")
    assert bad.returncode == 5 and "Traceback" not in bad.stderr
    error = json.loads(bad.stdout)["error"]
    assert error["type"] == "ArtifactError" and "install.sh" in error["message"]


# ---------------------------------------------------------------------------------- install.sh


def _snapshot(root: Path) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = ("file", p.read_bytes())
            else:
                out[rel] = ("dir",)
    return out


@pytest.fixture
def live(tmp_path) -> Path:
    """A live install to keep intact: a version, the `current` link, a log."""
    prefix = tmp_path / "opt" / "sentiment"
    (prefix / "versions" / "1.0.0-live" / "model").mkdir(parents=True)
    (prefix / "versions" / "1.0.0-live" / "model" / "model.fp32.onnx").write_bytes(b"the live model")
    (prefix / "log").mkdir()
    (prefix / "log" / "service.log").write_text("serving\n")
    (prefix / "current").symlink_to("versions/1.0.0-live")
    return prefix


def _install(entries, tmp_path: Path, prefix: Path) -> subprocess.CompletedProcess:
    """Unpack with GNU tar as the README says, then run the package's install.sh."""
    archive = _pack(entries, tmp_path / "pkg.tar.gz")
    dest = tmp_path / "unpacked"
    dest.mkdir()
    subprocess.run(["tar", "xzf", str(archive), "-C", str(dest)], capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEPACK_")}
    env.update(EDGEPACK_PREFIX=str(prefix), EDGEPACK_PYTHON=sys.executable, EDGEPACK_SERVICE_MANAGER="process",
               EDGEPACK_EXEC="")
    return subprocess.run(["sh", str(dest / _top(entries) / "install.sh")], env=env, capture_output=True,
                          text=True, timeout=120)


def test_install_sh_lets_the_real_package_through(slim, tmp_path, live):
    before = _snapshot(live)
    proc = _install(list(slim), tmp_path, live)
    # past the member check and the checksums, stopped by the architecture check (this is x86)
    assert proc.returncode == 4 and "this package is for 64-bit ARM (aarch64)" in proc.stderr, proc.stderr
    assert _snapshot(live) == before


INSTALL_REFUSALS = {  # what survives `tar xzf` and reaches install.sh
    "symlink": (_symlink, ["model/labels.txt", "symbolic link", "/etc/passwd"]),
    "symlinked-directory": (lambda e: _reseal(e + [_special(f"{_top(e)}/lib", tarfile.SYMTYPE, "/usr/lib")]),
                            ["/lib'", "symbolic link", "/usr/lib"]),
    "hardlink": (lambda e: _reseal(e + [_special(f"{_top(e)}/model/alias.sh", tarfile.LNKTYPE, f"{_top(e)}/install.sh")]),
                 ["hard link"]),
    "fifo": (_fifo, ["model/pipe", "FIFO"]),
    "unlisted-file": SUMS_FAULTS["unlisted-file"],
    "listed-file-missing": SUMS_FAULTS["listed-file-missing"],
    "sums-path-escapes": SUMS_FAULTS["sums-path-escapes"],
    "sums-duplicate-line": SUMS_FAULTS["sums-duplicate-line"],
    "duplicate": (_duplicate, ["model/model.fp32.onnx: FAILED"]),  # the later copy won: its checksum fails
}


@pytest.mark.parametrize("case", sorted(INSTALL_REFUSALS))
def test_install_sh_refuses_before_touching_the_live_install(case, slim, tmp_path, live):
    make, words = INSTALL_REFUSALS[case]
    before = _snapshot(live)
    proc = _install(make(list(slim)), tmp_path, live)
    assert proc.returncode == 3, proc.stderr
    assert "nothing was changed" in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    assert _snapshot(live) == before



@pytest.mark.parametrize("how,words", [
    ("deep", "not valid JSON"),
    ("no-model", "'model' must be an object"),
    ("files-not-objects", "'files' must be an object of {sha256, bytes}"),
    ("escaping-model-file", "'precisions.fp32.file' must be a file name inside the artifact"),
])
def test_inspect_refuses_a_malformed_manifest_in_a_package(how, words, slim, tmp_path):
    def mutate(data: bytes) -> bytes:
        if how == "deep":
            return b'{"model": ' + b"[" * 100000 + b"]" * 100000 + b"}"
        d = json.loads(data)
        if how == "no-model":
            d.pop("model")
        elif how == "files-not-objects":
            d["files"] = {"model.fp32.onnx": "abc"}
        else:
            d["precisions"]["fp32"]["file"] = "../../../etc/passwd"
        return json.dumps(d).encode()

    entries = []
    for m, d in slim:
        if m.name.endswith("/model/manifest.json"):
            m, d = _file(m.name, mutate(d))
        entries.append((m, d))
    message = _refused(inspect_artifact, _pack(_reseal(entries), tmp_path / f"{how}.tar.gz"))
    assert "model/manifest.json" in message and words in message, message


@pytest.mark.parametrize("name,data,words", [
    ("notes.txt", b"hello", "not an artifact edgepack can inspect"),
    ("empty.zip", b"PK\x05\x06" + b"\0" * 18, "the archive is empty; rebuild the bundle"),
    ("garbage.zip", b"PK\x03\x04 not really", "not a readable .zip"),
    ("fake.tar.gz", b"\x1f\x8b\x08\x00garbage", "not a readable .tar.gz"),
])
def test_inspect_names_what_it_cannot_read(name, data, words, tmp_path):
    (tmp_path / name).write_bytes(data)
    assert words in _refused(inspect_artifact, tmp_path / name)


# ---------------------------------------------------------------------------------- a web bundle's .zip


@pytest.fixture(scope="session")
def bundle_zip(tmp_path_factory) -> Path:
    from edgepack.web.bundle import build_wasm_bundle
    from tests.web.tiny_artifact_support import make_tiny_artifact

    root = tmp_path_factory.mktemp("bundle-zip")
    return build_wasm_bundle(make_tiny_artifact(root / "build"), root / "dist" / "tiny-wasm", "fp32").zip_path


def _rezip(src: Path, dest: Path, change) -> Path:
    import warnings
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for info, data in change([(i, zin.read(i)) for i in zin.infolist()]):
            zout.writestr(info, data)
    return dest


def _zip_link(entries):
    import zipfile

    info = zipfile.ZipInfo("tiny-wasm/model.fp32.onnx.link")
    info.external_attr = (0o120777 << 16)
    return entries + [(info, b"/etc/passwd")]


def test_inspect_reads_a_bundle_zip(bundle_zip):
    report = inspect_artifact(bundle_zip)
    assert report["kind"] == "web-bundle-zip" and report["integrity"] == "ok"
    directory = inspect_artifact(bundle_zip.with_suffix(""))  # the bundle directory of the same build
    assert report["files"] == directory["files"] and report["models"][0]["op_types"] == directory["models"][0]["op_types"]


def test_inspect_reports_a_changed_file_in_a_bundle_zip(bundle_zip, tmp_path):
    def flip(entries):
        return [(i, d[:-1] + bytes([d[-1] ^ 1]) if i.filename.endswith("/tokenizer.json") else d) for i, d in entries]

    report = inspect_artifact(_rezip(bundle_zip, tmp_path / "flipped.zip", flip))
    assert report["integrity"] == "tokenizer.json: sha256 does not match the manifest"


@pytest.mark.parametrize("case,change,words", [
    ("symlink", _zip_link, ["model.fp32.onnx.link", "symbolic link"]),
    ("dotdot", lambda e: e + [(__import__("zipfile").ZipInfo("tiny-wasm/../evil.js"), b"x")], ["evil.js", "outside"]),
    ("absolute", lambda e: e + [(__import__("zipfile").ZipInfo("/tmp/evil.js"), b"x")], ["/tmp/evil.js", "outside"]),
    ("second-top", lambda e: e + [(__import__("zipfile").ZipInfo("other/app.mjs"), b"x")], ["other/app.mjs", "outside"]),
    ("duplicate", lambda e: e + [e[-1]], ["appears twice"]),
])
def test_inspect_refuses_a_hostile_bundle_zip(case, change, words, bundle_zip, tmp_path):
    message = _refused(inspect_artifact, _rezip(bundle_zip, tmp_path / f"{case}.zip", change))
    for word in words:
        assert word in message, message


def test_a_zip_bomb_is_refused_by_its_declared_sizes(bundle_zip, tmp_path):
    # five members claiming ~4 GiB each in the central directory: over the 16 GiB bound, nothing read
    data = bytearray(_rezip(bundle_zip, tmp_path / "z.zip", lambda e: e).read_bytes())
    at, patched = 0, 0
    while patched < 5:
        at = data.index(b"PK\x01\x02", at) + 4
        data[at + 20:at + 24] = (0xFFFFFFF0).to_bytes(4, "little")  # uncompressed size
        patched += 1
    (tmp_path / "bomb.zip").write_bytes(bytes(data))
    assert "bytes unpacked" in _refused(inspect_artifact, tmp_path / "bomb.zip")


@pytest.mark.aarch64
@pytest.mark.slow
def test_install_sh_on_aarch64_refuses_a_symlink_before_anything_changes(rpi_packages, device, tmp_path):
    # The check with the device's own python (Bookworm's 3.11 under qemu), on the sample's package;
    # SHA256SUMS re-sealed through the link, so `sha256sum -c` alone would pass it.
    import shutil

    from tests.edge.device_support import reseal

    pkg = tmp_path / "pkg"
    shutil.copytree(rpi_packages["v1"], pkg)
    (pkg / "model" / "notes.txt").symlink_to("/etc/hostname")
    reseal(pkg)
    proc = device.run_script(pkg)
    assert proc.returncode == 3, proc.stderr
    assert "model/notes.txt' is a symbolic link" in proc.stderr and "nothing was changed" in proc.stderr
    assert not device.prefix.exists()
