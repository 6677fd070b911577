"""One module per exercise notebook, each declaring a ``chapter`` (a :class:`Chapter`) and its
tasks ``q1``, ``q2``, ... . The grader finds a chapter by id with :func:`load`."""

from __future__ import annotations

import importlib

from exercises.checking import Chapter

__all__ = ["load"]


def load(chapter_id: str) -> Chapter:
    """The :class:`Chapter` declared in ``exercises/tasks/<chapter_id>.py``."""
    if not chapter_id.isidentifier():
        raise ValueError(f"chapter id must be a module name like 'ch01', got {chapter_id!r}")
    return importlib.import_module(f"exercises.tasks.{chapter_id}").chapter
