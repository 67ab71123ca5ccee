"""Errors every service raises: each has an HTTP status and a machine-readable code.

A DomainError is a refusal (the request or message is wrong): HTTP answers it
with its status, and a consumer dead-letters it at once instead of retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from contracts.categories import Category

T = TypeVar("T")


class DomainError(Exception):
    """A specific, final refusal."""

    status = 422

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(DomainError):
    status = 400


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Unavailable(DomainError):
    """Not decided now: the caller may ask again (its request changed nothing it was not
    told of)."""

    status = 503


def rules_for(table: Mapping[Category, T], category: Category, what: str) -> T:
    """The rules of ``category`` in ``table``; a specific refusal naming the categories
    that have some when it has none (``what``: which rules, e.g. "tender")."""
    if category not in table:
        raise DomainError("category_without_rules",
                          f"no {what} rules are configured for category {category.value}",
                          configured=sorted(c.value for c in table))
    return table[category]
