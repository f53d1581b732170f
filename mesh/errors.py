"""Translation of nats-py exceptions into the :mod:`culto.errors` tree at the mesh boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import nats.errors
import nats.js.errors

from culto.errors import Conflict, CultoError, MeshError, MeshTimeout, MeshUnavailable, NotFound


def translate(exc: BaseException, action: str) -> CultoError:
    """Map one nats-py exception to a :class:`CultoError` whose message names ``action``."""
    if isinstance(exc, CultoError):
        return exc
    if isinstance(exc, nats.js.errors.KeyWrongLastSequenceError):
        return Conflict(f"{action}: the record changed concurrently (revision mismatch)")
    if isinstance(
        exc,
        nats.js.errors.NotFoundError
        | nats.js.errors.KeyNotFoundError
        | nats.js.errors.NoKeysError
        | nats.js.errors.BucketNotFoundError,
    ):
        return NotFound(f"{action}: not found")
    if isinstance(exc, nats.errors.TimeoutError | TimeoutError):
        return MeshTimeout(f"{action}: NATS did not answer in time; retry shortly")
    if isinstance(
        exc,
        nats.errors.NoRespondersError
        | nats.js.errors.ServiceUnavailableError
        | nats.errors.ConnectionClosedError
        | nats.errors.ConnectionDrainingError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.OutboundBufferLimitError
        | nats.errors.NoServersError,
    ):
        return MeshUnavailable(
            f"{action}: NATS is unavailable ({type(exc).__name__}); retry shortly"
        )
    if isinstance(exc, nats.js.errors.APIError):
        return MeshError(f"{action}: JetStream error {exc.err_code}: {exc.description}")
    return MeshError(f"{action}: {type(exc).__name__}: {exc}")


@contextmanager
def nats_errors(action: str) -> Iterator[None]:
    """Re-raise nats-py errors (and timeouts) inside the block as :class:`CultoError`."""
    try:
        yield
    except CultoError:
        raise
    except (nats.errors.Error, TimeoutError) as exc:
        raise translate(exc, action) from exc
