"""Giving a received file its name without losing it or another: the two file-system steps that the receiver
(``dicomkit receive``, the C-GET SCU's folder) and the archive's blob store share.

- :func:`link_new`: the file takes a name that nobody has, or nothing happens — a hard link (atomic, never
  replacing), so two stores of one SOP Instance UID cannot overwrite each other; where the file system has no
  hard links, an existence check and a rename (a small window).
- :func:`fsync_directory`: the new name made durable. A rename or link is a change of the folder (POSIX), which
  the file's own fsync does not flush.
"""

from __future__ import annotations

import errno
import os

# what os.link raises where the file system (or the mount) has no hard links to give
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


def link_new(source: str, target: str) -> bool:
    """Move ``source`` to the name ``target`` unless that name exists (then False, ``source`` untouched)."""
    try:
        os.link(source, target)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.exists(target):
            return False
        os.rename(source, target)
        return True
    os.unlink(source)
    return True


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Flush the entries of the folder ``path`` (a name given or taken in it) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["fsync_directory", "link_new"]
