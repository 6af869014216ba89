"""On-disk formats: the version each kind of file is written in, and the migrations that read older ones.

Each kind of file this library keeps between runs carries a ``"format"`` number: a gallery's
``gallery.json`` (its journal's lines follow it) and a persisted stage-1 index's ``state.json``.
Reading one of an older format brings it up to date here, one step at a time; this module is the
only place that knows what older files looked like (a file from before formats were numbered is
format 0). A file of a newer format than this library writes is refused with :class:`FormatError`.

Feature files (``.npz``) are not migrated: one without small frames or the motion stream of the
bundled encoder is *incomplete*, and indexing the video again writes it anew
(:meth:`~svmr.features.FeatureSequence.is_complete`).
"""
from __future__ import annotations

from typing import Callable

#: ``gallery.json`` — 1: numbered; the feature precision under ``storage``; every entry names its
#: feature file and carries ``damage`` and ``regions``
GALLERY_FORMAT = 1
#: a stage-1 index's ``state.json`` — 1: numbered; the Milvus database it lives in under ``uri``
INDEX_FORMAT = 1


class FormatError(ValueError):
    """A file written by a newer version of this library (or with a format number that is not one)."""


def _gallery_entry_0_to_1(entry: dict) -> dict:
    """An entry from before format 1: its features were ``<id>.npz``; it had no damage record and its
    regions were never looked for (None: indexing it again looks)."""
    return {**entry, "features": entry.get("features") or f"{entry['id']}.npz",
            "damage": entry.get("damage", {}), "regions": entry.get("regions")}


def _gallery_0_to_1(data: dict) -> dict:
    return {**data, "storage": data.get("storage", {"features": "float16"}),
            "videos": {key: _gallery_entry_0_to_1(entry) for key, entry in data["videos"].items()}}


def _index_0_to_1(state: dict) -> dict:
    return {**state, "uri": state.get("uri", "")}


#: format k → the step that reads it as format k + 1
GALLERY_STEPS: dict[int, Callable[[dict], dict]] = {0: _gallery_0_to_1}
GALLERY_ENTRY_STEPS: dict[int, Callable[[dict], dict]] = {0: _gallery_entry_0_to_1}
INDEX_STEPS: dict[int, Callable[[dict], dict]] = {0: _index_0_to_1}


def format_of(data: dict, current: int, what: str) -> int:
    """The format number ``data`` says it is in (0 when it names none).

    Raises:
        FormatError: a number that is not one, or newer than ``current``.
    """
    found = data.get("format", 0)
    if not isinstance(found, int) or found < 0:
        raise FormatError(f"{what}: format {found!r} is not a format number")
    if found > current:
        raise FormatError(f"{what} was written by a newer svmr (format {found}; this one reads up to {current}): "
                          "upgrade svmr to open it")
    return found


def _migrate(data: dict, found: int, current: int, steps: dict[int, Callable[[dict], dict]]) -> dict:
    for version in range(found, current):
        data = steps[version](data)
    return {**data, "format": current}


def migrate_gallery(data: dict, what: str = "gallery.json") -> tuple[dict, int]:
    """``gallery.json``'s content in any format this library reads → the current format, and the
    format it was in (its journal's lines are in that format too: :func:`migrate_gallery_entry`)."""
    found = format_of(data, GALLERY_FORMAT, what)
    return _migrate(data, found, GALLERY_FORMAT, GALLERY_STEPS), found


def migrate_gallery_entry(entry: dict, found: int) -> dict:
    """One video's entry (a journal line's) written in format ``found`` → the current format."""
    for version in range(found, GALLERY_FORMAT):
        entry = GALLERY_ENTRY_STEPS[version](entry)
    return entry


def migrate_index_state(state: dict, what: str = "state.json") -> dict:
    """A stage-1 index's ``state.json`` in any format this library reads → the current format."""
    return _migrate(state, format_of(state, INDEX_FORMAT, what), INDEX_FORMAT, INDEX_STEPS)
