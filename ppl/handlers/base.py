"""``Handler``: the base of every effect handler, written once over the backends' messengers.

A handler is a context manager, a decorator and a higher-order function, as in NumPyro::

    with handlers.seed(rng_seed=0): ...
    seeded = handlers.seed(model, rng_seed=0)
    seeded = handlers.seed(rng_seed=0)(model)

The backend is looked up when the handler is entered (or the wrapped function called), so the
same handler object works on either backend. Entering builds the backend's own messenger
(``Backend.handlers``) and pushes it on the backend's handler stack.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Callable
from typing import Any, ClassVar

from ..backends import backend as use_backend
from ..backends import get_backend
from ..errors import HandlerError

__all__ = ["Handler"]


class Handler:
    """Base class: subclasses implement ``_native`` (and optionally ``_enter_value``,
    ``_finish``).

    Parameters
    ----------
    fn : callable, optional
        The model (or any function calling ``ppl`` primitives) to wrap. Without it the handler
        is a context manager, or a decorator for the function it is called with.
    """

    #: a backend name that this handler always uses (see ``ppl.handlers.pinned``); ``None``
    #: means the active backend when the handler is entered
    backend_name: ClassVar[str | None] = None

    def __init__(self, fn: Callable | None = None):
        if fn is not None and not callable(fn):
            raise HandlerError(
                f"{type(self).__name__} wraps a callable (the model), not {type(fn).__name__}; "
                "pass the handler's options by keyword."
            )
        self.fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn, updated=())
        self._frames: list[tuple[contextlib.ExitStack, Any, Any]] = []

    # ---- what subclasses provide
    def _native(self, glue, backend):
        """The backend's messenger for this handler (a context manager, not wrapping a fn)."""
        raise NotImplementedError

    def _enter_value(self, native, backend):
        """What ``with handler as value`` binds (the handler itself by default)."""
        return self

    def _finish(self, native, backend) -> None:
        """Called after a block that raised nothing has left the handler."""

    # ---- the protocol
    def __enter__(self):
        scope = contextlib.ExitStack()
        try:
            if self.backend_name is not None:
                backend = scope.enter_context(use_backend(self.backend_name))
            else:
                backend = get_backend()
            native = self._native(backend.handlers, backend)
            scope.enter_context(native)
        except BaseException:
            scope.close()
            raise
        self._frames.append((scope, native, backend))
        return self._enter_value(native, backend)

    def __exit__(self, exc_type, exc_value, traceback):
        scope, native, backend = self._frames.pop()
        scope.__exit__(exc_type, exc_value, traceback)
        if exc_type is None:
            self._finish(native, backend)
        return False

    def __call__(self, *args, **kwargs):
        if self.fn is None:
            if len(args) == 1 and not kwargs and callable(args[0]):
                wrapped = copy.copy(self)
                Handler.__init__(wrapped, args[0])
                return wrapped
            raise HandlerError(
                f"{type(self).__name__} has no function to run: use it as "
                f"`{type(self).__name__}(model, ...)`, as a decorator, or as a context manager."
            )
        with self:
            # the model's arguments as ppl.infer converts them (numpy, lists, floats)
            args, kwargs = self._frames[-1][2].convert_args(args, kwargs)
            return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        inner = getattr(self.fn, "__name__", None) or repr(self.fn)
        return f"{type(self).__name__}({inner})"
