"""One writer per dataset: an exclusive lock file beside the store, held for a whole build.

``NAME.zarr`` is locked by ``NAME.zarr.lock``, created atomically (``O_CREAT | O_EXCL`` on a
local disk, fsspec's exclusive ``"xb"`` mode on a URL) and holding JSON that names its holder::

    {"pid": 4242, "host": "node7", "started": "2026-12-02T10:00:00+00:00", "command": "..."}

A local build also holds an ``flock`` on the file, which the kernel releases when the process
dies however it dies (``kill -9`` included). A second build of the same output refuses at once,
naming the holder. A lock file left by a dead build is therefore provably stale when its
``flock`` can be taken: it is taken over with a note naming the dead holder (so ``--resume``
after a crash just works). Where that proof is impossible (a URL, another host's lock, a
filesystem without ``flock``) a lock whose holder looks dead is reported as stale with the
command that removes it, and never removed by cfasim itself. The lock lives beside the store,
not in it, so it survives the store being replaced and never appears in the checksums.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from cfasim.errors import DatasetLockedError
from cfasim.store.fs import is_url

LOCK_SUFFIX = ".lock"
_log = logging.getLogger("cfasim")
_HELD: set[str] = set()  # locks this process holds: taking one again is a no-op


def lock_location(out) -> str | Path:
    """The lock file of output ``out`` (a local path or an fsspec URL)."""
    if is_url(out):
        return str(out).rstrip("/") + LOCK_SUFFIX
    out = Path(out)
    return out.with_name(out.name + LOCK_SUFFIX)


def _holder() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)[:500],
    }


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _refusal(out, lock, text: str, holder_alive: bool | None = None) -> DatasetLockedError:
    """The error for a lock someone else holds (or a dead process left); ``holder_alive``
    True when the holder is known to be alive (it holds the flock)."""
    try:
        info = json.loads(text)
        pid, host, started = int(info["pid"]), str(info["host"]), str(info.get("started", "?"))
    except (ValueError, KeyError, TypeError):
        return DatasetLockedError(
            f"{out} is locked by {lock}, which cfasim cannot read; if no build is writing "
            f"{out}, remove it: {_remove_command(lock)}"
        )
    who = f"process {pid} on {host}, started {started}"
    if not holder_alive and host == socket.gethostname() and not pid_alive(pid):
        return DatasetLockedError(
            f"stale lock {lock}: its build ({who}) is no longer running; if no other build is "
            f"writing {out}, remove it with: {_remove_command(lock)} (then use --resume to "
            f"continue the build)"
        )
    return DatasetLockedError(
        f"{out} is being written by another build ({who}); wait for it to finish or stop it "
        f"(lock file {lock})"
    )


def _remove_command(lock) -> str:
    if is_url(lock):
        return f"python -c \"import fsspec; fsspec.open('{lock}').fs.rm('{lock}')\""
    return f"rm '{lock}'"


@contextmanager
def build_lock(out):
    """Hold the exclusive lock of output ``out`` for the ``with`` block.

    Raises
    ------
    DatasetLockedError
        Another build holds the lock (named in the message), or a dead one left it (the
        message gives the command that removes it).
    """
    lock = lock_location(out)
    key = str(lock) if is_url(lock) else str(Path(lock).absolute())
    if key in _HELD:  # re-entered by the same build (e.g. the CLI, then build())
        yield lock
        return
    payload = json.dumps(_holder()).encode()
    if is_url(lock):
        release = _acquire_url(out, lock, payload)
    else:
        release = _acquire_local(out, lock, payload)
    _HELD.add(key)
    try:
        yield lock
    finally:
        _HELD.discard(key)
        release()


def _acquire_local(out, lock: Path, payload: bytes):
    """Create (or take over a provably stale) lock file and hold an ``flock`` on it."""
    if not lock.parent.is_dir():  # the output's folder is checked (and named) by the caller
        return lambda: None
    for _ in range(5):  # another build may release the lock between our steps: look again
        try:
            fd, created = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644), True
        except FileExistsError:
            try:
                fd, created = os.open(lock, os.O_RDWR), False
            except FileNotFoundError:
                continue
        locked = _try_flock(fd)
        previous = _read_fd(fd)
        if locked is False or (locked is None and not created):
            os.close(fd)  # a live holder, or no flock here to prove the holder dead
            raise _refusal(out, lock, previous, holder_alive=locked is False or None)
        if not _same_file(fd, lock):  # unlinked by its holder after we opened it
            os.close(fd)
            continue
        if not created:
            _log.warning("%s", _takeover_note(lock, previous))
        os.ftruncate(fd, 0)
        os.pwrite(fd, payload, 0)
        return partial(_release_local, fd, lock)
    raise DatasetLockedError(f"could not take the lock {lock}: it keeps changing; try again")


def _try_flock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: this filesystem has no flock."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode(errors="replace")
    except OSError:
        return ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _takeover_note(lock: Path, previous: str) -> str:
    try:
        info = json.loads(previous)
        who = f"process {info['pid']} on {info['host']}, started {info.get('started', '?')}"
    except (ValueError, KeyError, TypeError):
        who = "a build"
    return f"note: took over the stale lock {lock} left by {who}, which is no longer running"


def _release_local(fd: int, lock: Path) -> None:
    try:
        lock.unlink()  # while still holding the flock, so no one takes a dying lock
    except FileNotFoundError:
        pass
    os.close(fd)


def _acquire_url(out, lock: str, payload: bytes):
    import fsspec

    fs, path = fsspec.core.url_to_fs(lock)
    try:
        with fs.open(path, "xb") as f:  # atomic create where the filesystem supports it
            f.write(payload)
    except FileExistsError:
        raise _refusal(out, lock, fs.cat_file(path).decode(errors="replace")) from None
    except (NotImplementedError, ValueError, TypeError):  # no exclusive create: best effort
        if fs.exists(path):
            raise _refusal(out, lock, fs.cat_file(path).decode(errors="replace")) from None
        fs.pipe_file(path, payload)

    def release():
        try:
            fs.rm(path)
        except FileNotFoundError:
            pass

    return release
