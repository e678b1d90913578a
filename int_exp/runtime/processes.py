"""Which host and process a job is, and whether a process is still alive: how later jobs tell
what a killed job left behind (RUNNING MLflow runs and Optuna trials, staging folders)."""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname().split(".")[0] or "host"


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
