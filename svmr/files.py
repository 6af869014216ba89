"""Atomic file writes shared by the gallery and the stage-1 indexes, and whether the process that
wrote a temporary is still running."""
from __future__ import annotations

import json
import os
import threading


def write_json(path: str, data, indent: int | None = None) -> None:
    """Write ``data`` as JSON to ``path`` atomically: a temporary ``<path>.<pid>.<thread>.tmp``
    (the name the gallery clears when its writer is gone), then a rename."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=indent)
    os.replace(tmp, path)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
