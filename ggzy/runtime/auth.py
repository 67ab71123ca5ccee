"""Signed access tokens (EdDSA JWT) and role checks, verified locally by every service.

Registration signs tokens with its Ed25519 key and publishes the public key
set (JWKS); other services load that set once at start and verify every token
locally, with no call on the request path.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from ggzy.runtime.cache import TTLCache
from ggzy.runtime.errors import Forbidden, Unauthorized

ISSUER = "ggzy-registration"
AUDIENCE = "ggzy"


class Role(StrEnum):
    """What a user may do (角色)."""

    OPERATOR = "operator"  # platform operator (交易中心)
    SUPERVISOR = "supervisor"  # administrative supervisor (行政监督)
    TENDEREE = "tenderee"  # 招标人 / 采购人
    AGENCY = "agency"  # 代理机构
    BIDDER = "bidder"  # 投标人 / 供应商 / 竞买人
    EXPERT = "expert"  # 评标专家


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of an entity (or of the platform) with roles."""

    subject: str
    roles: frozenset[Role]
    uscc: str | None = None
    expert_id: str | None = None
    address: str | None = None  # where the request came from (not in the token)

    def has(self, *roles: Role) -> bool:
        """True when the principal holds any of ``roles``."""
        return bool(self.roles.intersection(roles))


class TokenIssuer:
    """Signs tokens with the platform's private key."""

    def __init__(self, key: Ed25519PrivateKey, kid: str) -> None:
        self.key = key
        self.kid = kid

    def issue(self, principal: Principal, ttl_s: int = 3600) -> str:
        """A signed token for ``principal`` valid for ``ttl_s`` seconds."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": principal.subject, "iat": now,
            "exp": now + ttl_s, "jti": uuid.uuid4().hex,
            "roles": sorted(r.value for r in principal.roles),
        }
        if principal.uscc:
            claims["uscc"] = principal.uscc
        if principal.expert_id:
            claims["expert_id"] = principal.expert_id
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        """The public key set other services verify with."""
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "EdDSA"})
        return {"keys": [jwk]}


class TokenVerifier:
    """Verifies tokens against a public key set."""

    def __init__(self, jwks: dict[str, Any], cache_s: float = 300.0) -> None:
        # A verified token stays valid until it expires (tokens are not revocable), so
        # its principal is remembered until then (at most ``cache_s``): one signature
        # check per token, not per request.
        self.verified: TTLCache[str, Principal] = TTLCache(cache_s)
        self.keys: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks.get("keys", []):
            key = OKPAlgorithm.from_jwk(json.dumps(jwk))
            if isinstance(key, Ed25519PublicKey):
                self.keys[jwk["kid"]] = key

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthorized with the reason otherwise."""
        known = self.verified.get(token)
        if known is not None:
            return known
        principal, exp = self._verify(token)
        self.verified.put(token, principal, ttl_s=exp - time.time())
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = self._claims(token)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token_expired", "token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("token_invalid", f"invalid token: {exc}") from exc
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", []))
        except ValueError as exc:
            raise Unauthorized("token_invalid", f"unknown role in token: {exc}") from exc
        return Principal(subject=claims["sub"], roles=roles, uscc=claims.get("uscc"),
                         expert_id=claims.get("expert_id")), float(claims["exp"])

    def _claims(self, token: str) -> dict[str, Any]:
        """The verified claims (PyJWT checks the signature and the claims). With a single
        key in the set (the usual case) the token is decoded once, with that key, and its
        header's ``kid`` checked after; on any failure the outcome is the one decoding
        with the key the header names gives: the header's own error, an unknown key, or
        that key's verdict."""
        if len(self.keys) == 1:
            ((only_kid, only_key),) = self.keys.items()
            try:
                verified = jwt.decode_complete(token, only_key, **_DECODE)
            except jwt.InvalidTokenError:
                self._key_of(token)  # a bad header or an unknown key says so first
                raise
            kid = verified["header"].get("kid", "")
            if kid != only_kid:
                raise _unknown_key(kid)
            claims: dict[str, Any] = verified["payload"]
            return claims
        return jwt.decode(token, self._key_of(token), **_DECODE)

    def _key_of(self, token: str) -> Ed25519PublicKey:
        kid = jwt.get_unverified_header(token).get("kid", "")
        key = self.keys.get(kid)
        if key is None:
            raise _unknown_key(kid)
        return key


_DECODE: dict[str, Any] = {"algorithms": ["EdDSA"], "audience": AUDIENCE, "issuer": ISSUER,
                           "options": {"require": ["exp", "sub", "iat"]}}


def _unknown_key(kid: str) -> Unauthorized:
    return Unauthorized("token_unknown_key", f"token signed with unknown key {kid!r}")


def bearer(header: str | None, verifier: TokenVerifier) -> Principal:
    """The principal of an ``Authorization: Bearer`` header."""
    if not header:
        raise Unauthorized("token_missing", "this call needs an Authorization: Bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("token_malformed", "Authorization must be 'Bearer <token>'")
    return verifier.verify(token.strip())


def require_role(principal: Principal, *roles: Role) -> Principal:
    """Forbidden unless the principal holds one of ``roles``."""
    if not principal.has(*roles):
        wanted = ", ".join(r.value for r in roles)
        raise Forbidden("role_required", f"this call needs one of the roles: {wanted}",
                        roles=[r.value for r in roles])
    return principal
