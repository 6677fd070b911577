"""Unbatched inputs, the way ``torch.nn.functional`` takes them: one decorator for every op.

PyTorch's 2-D ops accept ``(C, H, W)`` as well as ``(N, C, H, W)`` (1-D ops ``(C, L)`` as well
as ``(N, C, L)``) and then return an unbatched result. :func:`accepts_unbatched` gives an op
written for batched arrays that behaviour: when the op's first listed argument has one axis
less than the batched layout, every listed array argument gets a batch axis of 1 in front
(``x[None]``), shape arguments (``input_shape``) get a leading 1, and the listed results lose it
again (``y[0]``). Nothing is copied; the op itself validates everything else.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

import numpy as np

from convlib._validate import _LAYOUT_NAMES, as_array

__all__ = ["accepts_unbatched"]


def _ndim(value) -> int | None:
    if isinstance(value, np.ndarray):
        return value.ndim
    if isinstance(value, (list, tuple)):
        try:
            return np.ndim(value)
        except ValueError:  # ragged: let the op reject it
            return None
    return None


def accepts_unbatched(batched_ndim: int, arrays: Sequence[str] = ("x",),
                      shapes: Sequence[str] = (), results: Sequence[int] | None = None,
                      by: str | None = None) -> Callable[[Callable], Callable]:
    """Let an op written for ``batched_ndim``-D arrays also take them without the batch axis.

    ``arrays``: names of the array arguments that carry the batch axis; the first one decides
    (unbatched iff its ``ndim == batched_ndim - 1``). ``shapes``: names of shape arguments
    (e.g. ``input_shape``) that get a leading 1 when their length is ``batched_ndim - 1``.
    ``results``: indices of the returned tuple's entries that lose the batch axis (``None``:
    the result is one array, or a tuple whose entries all lose it). ``by``: the argument that
    decides instead of ``arrays[0]`` (a shape argument decides by its length, unless
    ``arrays[0]`` already has the batched rank).
    """
    by = by or arrays[0]

    def wrap(op: Callable) -> Callable:
        signature = inspect.signature(op)

        @functools.wraps(op)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            given = bound.arguments
            if by in shapes:  # a shape of b-1 entries, and no b-D array beside it
                shape = given.get(by)
                ndim = len(shape) if isinstance(shape, (tuple, list, np.ndarray)) else None
                if (_ndim(given.get(arrays[0])) or 0) >= batched_ndim:
                    ndim = batched_ndim
            else:
                ndim = _ndim(given.get(by))
            if by not in shapes and ndim is not None and ndim not in (batched_ndim,
                                                                      batched_ndim - 1):
                as_array(given[by], by)  # the kind of value first, then the rank
                layout = _LAYOUT_NAMES[batched_ndim]
                raise ValueError(
                    f"{by} must be a {batched_ndim}-D array {layout} or "
                    f"{batched_ndim - 1}-D without the batch axis {layout.replace('N, ', '')}, "
                    f"got shape {np.shape(given[by])}"
                )
            if ndim != batched_ndim - 1:
                return op(*args, **kwargs)
            for name in arrays:
                if given.get(name) is not None:
                    given[name] = np.asarray(given[name])[None]
            for name in shapes:
                shape = given.get(name)
                if isinstance(shape, (tuple, list, np.ndarray)) and len(shape) == batched_ndim - 1:
                    given[name] = (1, *shape)
            out = op(*bound.args, **bound.kwargs)
            if not isinstance(out, tuple):
                return out[0]
            keep = range(len(out)) if results is None else results
            return tuple(o[0] if k in keep else o for k, o in enumerate(out))

        return run

    return wrap
