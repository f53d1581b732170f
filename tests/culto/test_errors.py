"""The error tree's one mapping idiom: tables searched along the MRO."""

from __future__ import annotations

import pytest

from culto.errors import (
    CultoError,
    ErrorTable,
    InvalidInput,
    MeshTimeout,
    MeshUnavailable,
    NotFound,
    lookup,
    mapped_errors,
)


class Base(Exception):
    pass


class Child(Base):
    pass


class Grandchild(Child):
    pass


TABLE: ErrorTable = {
    # order does not matter: the MRO decides (the subclass entry is written last on purpose)
    Base: lambda exc, ctx: MeshUnavailable(f"{ctx}: base"),
    Child: lambda exc, ctx: NotFound(f"{ctx}: child"),
}


def test_lookup_prefers_the_most_specific_class() -> None:
    assert lookup({Base: 1, Child: 2}, Grandchild()) == 2
    assert lookup({Base: 1, Child: 2}, Base()) == 1
    assert lookup({Base: 1}, ValueError()) is None


def test_mapped_errors_translates_by_table_with_context() -> None:
    with (
        pytest.raises(NotFound, match="reading video: child") as info,
        mapped_errors(TABLE, "reading video"),
    ):
        raise Grandchild("x")
    assert isinstance(info.value.__cause__, Grandchild)


def test_unknown_errors_pass_unless_a_fallback_is_given() -> None:
    with pytest.raises(KeyError), mapped_errors(TABLE, "x"):
        raise KeyError("k")
    with (
        pytest.raises(MeshTimeout, match="ctx"),
        mapped_errors(TABLE, "ctx", fallback=lambda e, c: MeshTimeout(c)),
    ):
        raise KeyError("k")


def test_our_own_errors_pass_through_unchanged() -> None:
    original = InvalidInput("bad")
    with pytest.raises(InvalidInput) as info, mapped_errors(TABLE, "x"):
        raise original
    assert info.value is original


def test_http_status_table_follows_the_mro() -> None:
    from ops.http import status_for

    assert status_for(MeshUnavailable("x")) == 503  # via MeshError
    assert status_for(MeshTimeout("x")) == 504  # its own entry beats MeshError's
    assert status_for(NotFound("x")) == 404
    assert status_for(CultoError("x")) == 500
