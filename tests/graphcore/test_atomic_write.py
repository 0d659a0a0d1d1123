"""Atomic saves: the old file survives every failure, no temporary file is left, links are not followed."""

import errno
import os
import stat
import sys

import pytest

from graphcore.files import atomic_write
from graphcore.files.atomic_write import SaveError, write_text_atomic

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes and links")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_a_new_file_with_the_umask_mode(tmp_path):
    target = tmp_path / "g.json"
    write_text_atomic(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert not (tmp_path / "g.json.bak").exists() and leftovers(tmp_path) == []


def test_keeps_the_previous_version_as_a_backup(tmp_path):
    target = tmp_path / "g.json"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    write_text_atomic(target, "three")
    assert target.read_text() == "three" and (tmp_path / "g.json.bak").read_text() == "two"
    write_text_atomic(target, "four", keep_backup=False)
    assert (tmp_path / "g.json.bak").read_text() == "two"


@posix_only
def test_keeps_the_mode_of_the_file(tmp_path):
    target = tmp_path / "g.json"
    target.write_text("old")
    target.chmod(0o600)
    write_text_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "g.json.bak").stat().st_mode) == 0o600


@posix_only
def test_a_symlink_is_written_through_to_its_target(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert (tmp_path / "real.json.bak").read_text() == "old"


@posix_only
def test_a_planted_link_at_the_old_temporary_name_is_ignored(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "g.json.tmp").symlink_to(victim)
    write_text_atomic(tmp_path / "g.json", "new")
    assert victim.read_text() == "precious" and (tmp_path / "g.json").read_text() == "new"


def test_the_temporary_file_is_created_exclusively_without_following_links(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, flags, mode=0o777, **kw):
        seen.append(flags)
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(atomic_write.os, "open", spy)
    write_text_atomic(tmp_path / "g.json", "x")
    required = os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    assert seen[0] & required == required


def test_an_unencodable_character_is_refused_before_touching_the_disk(tmp_path):
    target = tmp_path / "g.json"
    target.write_text("old")
    with pytest.raises(SaveError) as caught:
        write_text_atomic(target, 'label: "ab\ud800"')
    message = str(caught.value)
    assert message == f"cannot save {target}: character 10 ('\\ud800') cannot be written as UTF-8"
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_full_disk_keeps_the_old_file_and_leaves_nothing(tmp_path, monkeypatch, failing):
    target = tmp_path / "g.json"
    write_text_atomic(target, "old")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic_write.os, failing, full)
    with pytest.raises(SaveError, match=r"No space left on device$") as caught:
        write_text_atomic(target, "new", keep_backup=False)
    assert "\n" not in str(caught.value) and str(target) in str(caught.value)
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_a_failing_backup_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "g.json"
    write_text_atomic(target, "old")
    (tmp_path / "g.json.bak").mkdir()
    with pytest.raises(SaveError, match=r"^cannot keep the backup .*g\.json\.bak of .*g\.json: "):
        write_text_atomic(target, "new")
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_a_folder_in_the_way(tmp_path):
    (tmp_path / "g.json").mkdir()
    with pytest.raises(SaveError, match=r"g\.json: a folder is in the way$"):
        write_text_atomic(tmp_path / "g.json", "x")
    assert leftovers(tmp_path) == []


def test_a_missing_folder(tmp_path):
    with pytest.raises(SaveError, match=r"^cannot save .*missing.*g\.json: No such file or directory$"):
        write_text_atomic(tmp_path / "missing" / "g.json", "x")


@posix_only
@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_folder(tmp_path):
    target = tmp_path / "g.json"
    target.write_text("old")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SaveError, match=r"Permission denied$"):
            write_text_atomic(target, "new")
    finally:
        tmp_path.chmod(0o700)
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_a_refused_temporary_file(tmp_path, monkeypatch):
    """What a read-only folder does for a user who is not root."""
    target = tmp_path / "g.json"
    target.write_text("old")

    def refuse(*args, **kw):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic_write.os, "open", refuse)
    with pytest.raises(SaveError, match=r"^cannot keep the backup .*: Permission denied$"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"


def test_save_error_is_an_os_error():
    assert issubclass(SaveError, OSError)
