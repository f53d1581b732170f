"""Translation of nats-py exceptions into the :mod:`culto.errors` tree at the mesh boundary.

One table, searched along the raised exception's MRO (:func:`culto.errors.lookup`): the most
specific entry wins wherever it is written, e.g. ``KeyWrongLastSequenceError`` (a CAS lost)
before its base ``APIError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import nats.errors
import nats.js.errors

from culto.errors import (
    Conflict,
    CultoError,
    ErrorTable,
    MeshError,
    MeshTimeout,
    MeshUnavailable,
    NotFound,
    PayloadTooLarge,
    StorageFull,
    mapped_errors,
)

STORAGE_FULL_HINT = (
    "the event store's disk is full; free space on the NATS server's volume (CULTO_DATA_DIR for"
    " 'culto up'), the service recovers by itself"
)


def _conflict(exc: BaseException, context: str) -> CultoError:
    return Conflict(f"{context}: the record changed concurrently (revision mismatch)")


def _not_found(exc: BaseException, context: str) -> CultoError:
    return NotFound(f"{context}: not found")


def _timeout(exc: BaseException, context: str) -> CultoError:
    return MeshTimeout(f"{context}: NATS did not answer in time; retry shortly")


def _unavailable(exc: BaseException, context: str) -> CultoError:
    return MeshUnavailable(f"{context}: NATS is unavailable ({type(exc).__name__}); retry shortly")


def _refused(exc: BaseException, context: str) -> CultoError:
    return MeshUnavailable(
        f"{context}: NATS refused this process's credentials; check NATS_USER/NATS_PASSWORD"
    )


def _too_large(exc: BaseException, context: str) -> CultoError:
    return PayloadTooLarge(f"{context}: the message is over the NATS size limit (max_payload)")


INSUFFICIENT_RESOURCES = 10047  # JetStream: "insufficient storage resources available"
WRONG_LAST_SEQUENCE = 10071
"""JetStream: a publish's expected last subject sequence no longer holds (a compare-and-set
lost). ``kv.update`` raises its own class for it; ``kv.delete(last=...)`` raises a bare
``APIError`` with this code."""


def _api_error(exc: BaseException, context: str) -> CultoError:
    assert isinstance(exc, nats.js.errors.APIError)
    if exc.err_code == INSUFFICIENT_RESOURCES:
        return StorageFull(f"{context}: {STORAGE_FULL_HINT}")
    if exc.err_code == WRONG_LAST_SEQUENCE:
        return _conflict(exc, context)
    return MeshError(f"{context}: JetStream error {exc.err_code}: {exc.description}")


def _other(exc: BaseException, context: str) -> CultoError:
    return MeshError(f"{context}: {type(exc).__name__}: {exc}")


NATS_ERRORS: ErrorTable = {
    nats.js.errors.KeyWrongLastSequenceError: _conflict,
    nats.js.errors.NotFoundError: _not_found,
    nats.js.errors.KeyNotFoundError: _not_found,
    nats.js.errors.NoKeysError: _not_found,
    nats.js.errors.BucketNotFoundError: _not_found,
    nats.errors.TimeoutError: _timeout,
    TimeoutError: _timeout,
    nats.errors.NoRespondersError: _unavailable,
    # A JetStream publish nobody stored (the stream has no leader: an election): transient.
    nats.js.errors.NoStreamResponseError: _unavailable,
    nats.js.errors.ServiceUnavailableError: _unavailable,
    nats.errors.ConnectionClosedError: _unavailable,
    nats.errors.ConnectionDrainingError: _unavailable,
    nats.errors.ConnectionReconnectingError: _unavailable,
    nats.errors.OutboundBufferLimitError: _unavailable,
    nats.errors.NoServersError: _unavailable,
    nats.errors.MaxPayloadError: _too_large,
    nats.errors.AuthorizationError: _refused,
    nats.js.errors.APIError: _api_error,
    nats.errors.Error: _other,
}
"""nats-py exception class → our error (most specific class first along the MRO)."""


@contextmanager
def nats_errors(context: str) -> Iterator[None]:
    """Re-raise nats-py errors (and timeouts) inside the block as :class:`CultoError`."""
    with mapped_errors(NATS_ERRORS, context):
        yield
