"""Write a file so that a crash, a full disk or a planted link never loses or corrupts the old one.

The text goes to a fresh temporary file beside the target (created exclusively, never through a
link), is flushed to disk, and only then renamed over the target; the previous version is kept as
`NAME.bak`. Documents and the app's recovery files are both written this way.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

_CREATE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


class SaveError(OSError):
    """A file that could not be written; the message is one line naming the path and the reason."""


def write_text_atomic(path: str | Path, text: str, *, keep_backup: bool = True) -> None:
    """Replace `path` with `text` (UTF-8) in one step; on failure the old file and folder are as they were."""
    path = Path(path)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        raise SaveError(
            f"cannot save {path}: character {error.start} ({ascii(bad)}) cannot be written as UTF-8"
        ) from None
    write_bytes_atomic(path, data, keep_backup=keep_backup)


def write_bytes_atomic(path: str | Path, data: bytes, *, keep_backup: bool = True) -> None:
    """Replace `path` with `data` in one step (a graph's weights file is written this way too)."""
    path = Path(path)
    try:
        target = path.resolve() if path.is_symlink() else path
    except (OSError, RuntimeError) as error:  # a loop of links
        raise SaveError(f"cannot save {path}: {_reason(error)}") from None
    if target.is_dir():
        raise SaveError(f"cannot save {path}: a folder is in the way")
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None  # a new file: the kernel applies the umask to 0o666
    except OSError as error:
        raise SaveError(f"cannot save {path}: {_reason(error)}") from None
    if keep_backup and mode is not None:
        backup = target.with_name(target.name + ".bak")
        _write_new(target, backup, target.read_bytes, mode, f"cannot keep the backup {backup} of {path}")
    _write_new(target, target, lambda: data, mode, f"cannot save {path}")


def _write_new(
    target: Path, destination: Path, content: Callable[[], bytes], mode: int | None, failure: str
) -> None:
    """Write content() to a new temporary file beside `target`, then rename it to `destination`."""
    temp: Path | None = None
    try:
        temp, fd = _create_temp(target)
        try:
            view = memoryview(content())
            while view:
                view = view[os.write(fd, view) :]
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, destination)
        temp = None
        _fsync_folder(destination.parent)
    except OSError as error:
        raise SaveError(f"{failure}: {_reason(error)}") from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def _create_temp(target: Path) -> tuple[Path, int]:
    """A new file `.NAME.<random>.tmp` in the target's folder; O_EXCL means a planted file or link fails."""
    for _ in range(100):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return temp, os.open(temp, _CREATE_FLAGS, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable. Platforms that cannot open a folder (Windows) skip this."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename has happened
    finally:
        os.close(fd)


def _reason(error: BaseException) -> str:
    """The OS's reason in words, on one line ('No space left on device')."""
    if isinstance(error, IsADirectoryError):
        return "a folder is in the way"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())
