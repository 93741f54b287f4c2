"""toolkit/atomic.py + toolkit/archive.py: a directory and its archives are published together,
survive SIGINT/SIGTERM/SIGKILL at every named point, leave no leftovers, and are reproducible."""

from __future__ import annotations

import fcntl
import gzip
import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from edgepack.archive import write_tar_gz, write_zip
from edgepack.atomic import PAUSE_POINTS, atomic_directory, atomic_publish, repair
from edgepack.errors import OutputError
from tests.atomic_support import archive_listing, finish, leftovers, run_until_paused, tree_listing


# A tiny publisher: directory + zip + tar.gz whose every file names the generation.
PUBLISH_SCRIPT = textwrap.dedent("""
    import signal, sys
    from pathlib import Path
    from edgepack.atomic import Interrupted, atomic_publish

    def stop(signum, frame):
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out, gen = Path(sys.argv[1]), sys.argv[2]
    try:
        with atomic_publish(out / "bundle", archives=[out / "bundle.zip", out / "bundle.tar.gz"]) as tmp:
            for i in range(3):
                (tmp / f"f{i}.txt").write_text(f"{gen} {i}")
            (tmp / "sub").mkdir()
            (tmp / "sub" / "gen.json").write_text(gen)
    except Interrupted as exc:
        print(exc.message, file=sys.stderr)
        sys.exit(exc.exit_code)
""")


def _publish(out: Path, gen: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PUBLISH_SCRIPT, str(out), gen], capture_output=True, text=True,
                          timeout=120)


def _generation(out: Path) -> set[str]:
    """The generations found in the directory and in both archives (one element when consistent)."""
    gens = {(out / "bundle" / "sub" / "gen.json").read_text()}
    with zipfile.ZipFile(out / "bundle.zip") as zf:
        gens.add(zf.read("bundle/sub/gen.json").decode())
    with tarfile.open(out / "bundle.tar.gz") as tar:
        gens.add(tar.extractfile("bundle/sub/gen.json").read().decode())
    assert archive_listing(out / "bundle.zip") == tree_listing(out / "bundle") == archive_listing(out / "bundle.tar.gz")
    return gens


# ------------------------------------------------------------------------------------------ publish

def test_directory_and_archives_replaced_together_without_leftovers(tmp_path):
    assert _publish(tmp_path, "one").returncode == 0
    assert _generation(tmp_path) == {"one"}
    assert _publish(tmp_path, "two").returncode == 0
    assert _generation(tmp_path) == {"two"}
    assert leftovers(tmp_path) == []


def test_failed_block_keeps_previous_and_cleans_up(tmp_path):
    assert _publish(tmp_path, "one").returncode == 0
    with pytest.raises(RuntimeError):
        with atomic_publish(tmp_path / "bundle", archives=[tmp_path / "bundle.zip", tmp_path / "bundle.tar.gz"]) as t:
            (t / "sub").mkdir()
            (t / "sub" / "gen.json").write_text("broken")
            raise RuntimeError("boom")
    assert _generation(tmp_path) == {"one"}
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("label", PAUSE_POINTS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_at_every_point_leaves_one_consistent_generation(tmp_path, label, sig):
    assert _publish(tmp_path, "old").returncode == 0
    proc = run_until_paused([sys.executable, "-c", PUBLISH_SCRIPT, str(tmp_path), "new"], label)
    code, _, err = finish(proc, sig)
    assert code == 128 + sig, err
    assert "Traceback" not in err
    gens = _generation(tmp_path)
    if label in ("built", "archive", "commit"):
        assert gens == {"old"} and "previous artifacts kept" in err
    elif label == "between-renames":
        # The signal is deferred past the renames: the new build is complete, and the message says so.
        assert gens == {"new"} and "published" in err
    else:  # swapped: published before the signal
        assert gens == {"new"} and "published" in err
    _publish(tmp_path, "after")  # the next run removes whatever an interrupted cleanup left
    assert _generation(tmp_path) == {"after"}
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("label", PAUSE_POINTS)
def test_sigkill_at_every_point_is_repaired_by_the_next_run(tmp_path, label):
    assert _publish(tmp_path, "old").returncode == 0
    proc = run_until_paused([sys.executable, "-c", PUBLISH_SCRIPT, str(tmp_path), "new"], label)
    code, _, _ = finish(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    if label == "between-renames":
        # The directory is new and the archives still old: exactly the window the journal covers.
        assert (tmp_path / ".bundle.publish").is_file()
        repair(tmp_path / "bundle", [tmp_path / "bundle.zip", tmp_path / "bundle.tar.gz"])
        assert _generation(tmp_path) == {"new"}  # rolled forward: the commit had happened
    elif label in ("built", "archive", "commit"):
        assert _generation(tmp_path) == {"old"}
    else:
        assert _generation(tmp_path) == {"new"}
    assert _publish(tmp_path, "after").returncode == 0
    assert _generation(tmp_path) == {"after"}
    assert leftovers(tmp_path) == []


def test_live_work_directory_is_not_removed_but_abandoned_ones_are(tmp_path):
    final = tmp_path / "out"
    live = tmp_path / ".out.tmp-123-live"
    dead = tmp_path / ".out.tmp-456-dead"
    live.mkdir()
    dead.mkdir()
    (tmp_path / ".out.old-999").mkdir()  # what web/bundle.py used to leave after a Ctrl-C
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running publisher holds it
    try:
        with atomic_directory(final) as tmp:
            (tmp / "a").write_text("a")
        assert live.is_dir() and not dead.exists() and not (tmp_path / ".out.old-999").exists()
    finally:
        os.close(fd)
    repair(final)
    assert leftovers(tmp_path) == []


def test_names_with_glob_characters_are_cleaned_exactly(tmp_path):
    for name in ("a[1]", "a1"):
        with atomic_directory(tmp_path / name) as tmp:
            (tmp / "x").write_text(name)
    (tmp_path / ".a1.previous-1-x").mkdir()  # belongs to a1, which is not being published
    with atomic_directory(tmp_path / "a[1]") as tmp:
        (tmp / "x").write_text("again")
    assert (tmp_path / ".a1.previous-1-x").is_dir() and (tmp_path / "a[1]" / "x").read_text() == "again"


def test_legacy_previous_copy_is_restored_when_final_is_missing(tmp_path):
    (tmp_path / "out.previous").mkdir()
    (tmp_path / "out.previous" / "a").write_text("kept")
    repair(tmp_path / "out")
    assert (tmp_path / "out" / "a").read_text() == "kept"
    assert leftovers(tmp_path) == []


def test_keep_existing_starts_from_current_contents(tmp_path):
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "a").write_text("a")
    with atomic_directory(tmp_path / "out", keep_existing=True) as tmp:
        (tmp / "b").write_text("b")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a", "b"]


def test_archive_on_a_non_directory_parent_is_an_output_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="file"):
        with atomic_publish(tmp_path / "out", archives=[tmp_path / "file" / "out.zip"]):
            pass
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "dir-as-archive", "file-as-directory"])
def test_final_paths_of_the_wrong_kind_are_refused_untouched(tmp_path, kind):
    if kind == "fifo":
        os.mkfifo(tmp_path / "out")
        target, args = tmp_path / "out", {"directory": tmp_path / "out"}
    elif kind == "dir-as-archive":
        (tmp_path / "out.zip").mkdir()
        (tmp_path / "out.zip" / "mine").write_text("user data")
        target, args = tmp_path / "out.zip", {"directory": tmp_path / "out", "archives": [tmp_path / "out.zip"]}
    else:
        (tmp_path / "out").write_text("user data")
        target, args = tmp_path / "out", {"directory": tmp_path / "out"}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(OutputError, match="refusing to replace"):
        with atomic_publish(**args) as tmp:
            (tmp / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before and (target.exists() or target.is_fifo())


def test_disk_full_is_an_output_error_and_keeps_the_previous(tmp_path):
    with atomic_directory(tmp_path / "out") as tmp:
        (tmp / "a").write_text("old")
    with pytest.raises(OutputError, match="No space left"):
        with atomic_directory(tmp_path / "out") as tmp, open("/dev/full", "wb", buffering=0) as full:
            full.write(b"model bytes")  # a real ENOSPC, as from a full disk mid-copy
    assert (tmp_path / "out" / "a").read_text() == "old" and leftovers(tmp_path) == []


def test_unknown_archive_type_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="unknown archive type"):
        with atomic_publish(tmp_path / "out", archives=[tmp_path / "out.rar"]):
            pass
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- reproducibility

def _tree(root: Path, umask: int) -> Path:
    old = os.umask(umask)
    try:
        root.mkdir()
        for rel, data in (("b.txt", "b"), ("a/z.mjs", "z" * 500), ("a/c.bin", "c"), ("run.sh", "#!/bin/sh\n")):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(data)
        os.chmod(root / "run.sh", 0o755)
    finally:
        os.umask(old)
    return root


@pytest.mark.parametrize("writer", [write_zip, write_tar_gz])
def test_archives_are_byte_identical_across_builds(tmp_path, writer, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    one = _tree(tmp_path / "one", 0o022)
    two = _tree(tmp_path / "two", 0o077)  # other umask, other mtimes, other inode order
    os.utime(two / "b.txt", (1, 1))
    time.sleep(0.01)
    writer(one, tmp_path / "1.arc", "pkg")
    writer(two, tmp_path / "2.arc", "pkg")
    first, second = (tmp_path / "1.arc").read_bytes(), (tmp_path / "2.arc").read_bytes()
    assert first == second
    if writer is write_tar_gz:
        assert first[4:8] == b"\0\0\0\0"  # gzip mtime 0
        assert not first[3] & 0x08  # no FNAME: the temporary output name is not recorded
        with tarfile.open(tmp_path / "1.arc") as tar:
            members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert {(m.uid, m.gid, m.uname, m.mtime) for m in members} == {(0, 0, "root", 315532800)}
        modes = {m.name: m.mode for m in members}
        assert modes["pkg/run.sh"] == 0o755 and modes["pkg/b.txt"] == 0o644 and modes["pkg/a"] == 0o755
    else:
        with zipfile.ZipFile(tmp_path / "1.arc") as zf:
            infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.extra for i in infos} == {b""}
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_sets_the_archive_time(tmp_path, monkeypatch):
    root = _tree(tmp_path / "t", 0o022)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_tar_gz(root, tmp_path / "a.tar.gz", "t")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "not a number")
    write_tar_gz(root, tmp_path / "b.tar.gz", "t")
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {315532800}


def test_compressed_copies_are_deterministic(tmp_path):
    from edgepack.web.compress import compress_tree, gzip_bytes

    data = b"edgepack " * 2000
    assert gzip_bytes(data) == gzip_bytes(data)
    assert gzip.decompress(gzip_bytes(data)) == data
    assert gzip_bytes(data)[4:10] == b"\0\0\0\0\x02\xff"  # mtime 0, max compression, OS unknown
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.json").write_bytes(data)
        (tmp_path / name / "manifest.json").write_bytes(data)
        compress_tree(tmp_path / name, {}, quality=5, skip=("manifest.json",))
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["manifest.json", "x.json", "x.json.br", "x.json.gz"]
    for suffix in (".br", ".gz"):
        assert (tmp_path / "one" / f"x.json{suffix}").read_bytes() == (tmp_path / "two" / f"x.json{suffix}").read_bytes()


def test_publish_twice_gives_identical_archives(tmp_path):
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        assert _publish(tmp_path / out, "same").returncode == 0
    for name in ("bundle.zip", "bundle.tar.gz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with zipfile.ZipFile(io.BytesIO((tmp_path / "a" / "bundle.zip").read_bytes())) as zf:
        assert zf.read("bundle/sub/gen.json").decode() == "same"
