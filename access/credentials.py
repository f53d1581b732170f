"""Passwords, API tokens and session ids: how they are made, stored and checked.

- **Passwords** are stored as ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (base64url): scrypt
  (RFC 7914) with N = 2**15, r = 8, p = 1 (32 MiB, about 0.1 s per check on one core), a random
  16-byte salt and a 32-byte key. The parameters are read back from each hash, so raising them
  later only affects new hashes. A login for an unknown email checks against a dummy hash, so
  its answer takes the same time and says nothing about whether the email exists.
- **API tokens** are ``culto_<id>_<secret>``: ``t_`` + 16 hex digits name the stored record,
  the secret is 32 random bytes (base64url). 256 random bits cannot be guessed, so the record
  keeps only the SHA-256 of the secret (a slow hash would add nothing but latency per request).
- **Session ids** are 32 random bytes; the cookie carries the id (signed), the KV bucket keys
  the record by its SHA-256, so reading the bucket does not give anyone a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
_MAXMEM = 256 * 1024 * 1024
TOKEN_PREFIX = "culto_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=1 << log2_n, r=r, p=p, dklen=32, maxmem=_MAXMEM
    )


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (slow on purpose: run it off the event loop)."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_LOG2_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


DUMMY_HASH = "scrypt$15$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
"""Checked when the email is unknown, so a failed login always costs one KDF run."""


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time compare; False if malformed)."""
    try:
        kind, log2_n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        expected = _unb64(key)
        actual = _scrypt(password, _unb64(salt), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_password() -> str:
    """A generated password (shown once): 20 characters of base64url, ~120 bits."""
    return secrets.token_urlsafe(15)


def sha256_hex(text: str) -> str:
    """SHA-256 of ``text`` (UTF-8) as hex: how token secrets and session ids are stored."""
    return hashlib.sha256(text.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """``(token_id, secret_hash, token)``: the token is shown once, the rest is stored."""
    token_id = "t_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, sha256_hex(secret), f"{TOKEN_PREFIX}{token_id}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    rest = token[len(TOKEN_PREFIX) :]
    if not rest.startswith("t_") or len(rest) < 20 or rest[18:19] != "_":
        return None
    token_id, secret = rest[:18], rest[19:]
    if not all(c in "0123456789abcdef" for c in token_id[2:]) or not secret:
        return None
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in secret):
        return None
    return token_id, secret


def token_matches(secret: str, secret_hash: str) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    return hmac.compare_digest(sha256_hex(secret), secret_hash)


def new_session_id() -> str:
    """A fresh session id (or one-time login secret): 32 random bytes, base64url."""
    return secrets.token_urlsafe(32)


def session_key(session_id: str) -> str:
    """The KV key of a session: the SHA-256 of its id."""
    return sha256_hex(session_id)
