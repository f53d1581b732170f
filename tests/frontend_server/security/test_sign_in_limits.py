"""Sign-in limits: guessing is slow from one address and for one account, yet nobody can lock
a person out from their own address, and one address cannot block every one-time link."""

from __future__ import annotations

from frontend_server.security.limits import LOGIN_ACCOUNT_CEILING, ClientLimits, RateLimitConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _limits(clock: Clock) -> ClientLimits:
    return ClientLimits(RateLimitConfig(logins_per_minute=10), clock=clock)


def _exhaust(limits: ClientLimits, address: str, account: str | None) -> int:
    for _ in range(1000):
        if limits.login_attempt(address, account):
            return 1
    return 0


def test_an_attacker_address_cannot_lock_the_owner_out() -> None:
    limits = _limits(Clock())
    assert _exhaust(limits, "203.0.113.9", "pastor@example.org")  # the attacker is slowed
    assert limits.login_attempt("198.51.100.7", "pastor@example.org") == 0  # the owner is not


def test_guessing_one_account_from_many_addresses_hits_the_account_ceiling() -> None:
    limits = _limits(Clock())
    allowed = 0
    for n in range(1000):
        if limits.login_attempt(f"10.0.{n // 250}.{n % 250}", "pastor@example.org") == 0:
            allowed += 1
    assert allowed == LOGIN_ACCOUNT_CEILING * 10


def test_one_address_cannot_block_every_one_time_link() -> None:
    limits = _limits(Clock())
    assert _exhaust(limits, "203.0.113.9", None)
    assert limits.login_attempt("198.51.100.7", None) == 0


def test_attempts_come_back_with_time() -> None:
    clock = Clock()
    limits = _limits(clock)
    assert _exhaust(limits, "203.0.113.9", "a@example.org")
    clock.now += 3600
    assert limits.login_attempt("203.0.113.9", "a@example.org") == 0
