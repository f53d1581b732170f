"""The identity store's old import path, kept only while the callers in other engineers' areas
(tests/services/identity/test_migration.py, tests/services/api/test_service.py,
benchmarks/phases/publish.py) still use it; it goes once they import :mod:`mesh.identity.store`.
"""

from mesh.identity.store import (
    IdentityStore,
    channel_key,
    email_key,
    member_key,
    parse_pointer,
    token_key,
    user_key,
)

__all__ = [
    "IdentityStore",
    "channel_key",
    "email_key",
    "member_key",
    "parse_pointer",
    "token_key",
    "user_key",
]
