"""One run at a time per state file.

An OS file lock (flock) beside the state file: the kernel releases it when the process dies, even by kill -9 or
power loss, so a crashed run never leaves a stale lock behind, and a second run gets a clear message instead of
interleaving its writes with the first.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from flywheel_cli.errors import StateError


class RunLock:
    def __init__(self, state_path: Path) -> None:
        self.path = state_path.with_name(state_path.name + ".run.lock")
        self._fd: int | None = None

    def acquire(self, run_hint: str = "") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateError(
                f"another flywheel run is using this state file ({holder})",
                hint="Wait for it to finish, or stop it (Ctrl-C) and resume later; `flywheel runs list` shows runs.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')} {run_hint}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        """True while some other process holds the lock (a live run)."""
        if self._fd is not None:
            return False
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
