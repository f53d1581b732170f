"""Passwords, tokens and session ids."""

from __future__ import annotations

from access.credentials import (
    DUMMY_HASH,
    hash_password,
    new_token,
    session_key,
    split_token,
    token_matches,
    verify_password,
)


def test_passwords_are_salted_slow_hashes_that_verify() -> None:
    first, second = hash_password("s3cret pass"), hash_password("s3cret pass")
    assert first != second and first.startswith("scrypt$15$8$1$")
    assert "s3cret" not in first
    assert verify_password("s3cret pass", first)
    assert not verify_password("s3cret Pass", first)
    assert not verify_password("anything", DUMMY_HASH)
    assert not verify_password("anything", "md5$abc")
    assert not verify_password("anything", "scrypt$x$8$1$a$b")


def test_tokens_round_trip_and_only_their_hash_is_kept() -> None:
    token_id, secret_hash, token = new_token()
    assert token.startswith(f"culto_{token_id}_")
    parts = split_token(token)
    assert parts is not None and parts[0] == token_id
    assert token_matches(parts[1], secret_hash)
    assert parts[1] not in secret_hash
    assert not token_matches(parts[1] + "x", secret_hash)


def test_malformed_tokens_are_refused() -> None:
    token_id, _, token = new_token()
    for bad in (
        "",
        "culto_",
        token.replace("culto_", "cult0_"),
        f"culto_{token_id}",
        f"culto_{token_id}_",
        f"culto_t_XYZ3456789abcdef_{'a' * 43}",
        f"culto_{token_id}_bad secret",
        token + "a" * 200,
    ):
        assert split_token(bad) is None, bad


def test_session_keys_hide_the_session_id() -> None:
    key = session_key("the-session-id")
    assert len(key) == 64 and "the-session-id" not in key
    assert key == session_key("the-session-id")
