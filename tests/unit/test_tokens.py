"""Signed access tokens (EdDSA JWT) verified locally from the published key set."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggzy.runtime.auth import (
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    bearer,
    require_role,
)
from ggzy.runtime.errors import Forbidden, Unauthorized

ALICE = Principal("alice", frozenset({Role.TENDEREE}), uscc="914403001922038216")


def issuer(kid: str = "k1") -> TokenIssuer:
    return TokenIssuer(Ed25519PrivateKey.generate(), kid)


def test_token_round_trips_through_the_published_key_set() -> None:
    iss = issuer()
    principal = TokenVerifier(iss.jwks()).verify(iss.issue(ALICE))
    assert principal == ALICE


def test_refuses_token_signed_by_another_key_with_the_same_kid() -> None:
    forged = issuer("k1").issue(ALICE)
    with pytest.raises(Unauthorized) as err:
        TokenVerifier(issuer("k1").jwks()).verify(forged)
    assert err.value.code == "token_invalid"


def test_refuses_token_with_unknown_key_id() -> None:
    with pytest.raises(Unauthorized) as err:
        TokenVerifier(issuer("k1").jwks()).verify(issuer("k2").issue(ALICE))
    assert err.value.code == "token_unknown_key"


def test_refuses_expired_token() -> None:
    iss = issuer()
    with pytest.raises(Unauthorized) as err:
        TokenVerifier(iss.jwks()).verify(iss.issue(ALICE, ttl_s=-10))
    assert err.value.code == "token_expired"


def test_refuses_token_whose_roles_were_edited() -> None:
    iss = issuer()
    token = iss.issue(ALICE)
    header, _payload, sig = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["roles"] = ["operator"]
    forged_payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    with pytest.raises(Unauthorized):
        TokenVerifier(iss.jwks()).verify(f"{header}.{forged_payload}.{sig}")


def test_refuses_missing_or_malformed_authorization_header() -> None:
    verifier = TokenVerifier(issuer().jwks())
    with pytest.raises(Unauthorized) as missing:
        bearer(None, verifier)
    with pytest.raises(Unauthorized) as malformed:
        bearer("Basic abc", verifier)
    assert (missing.value.code, malformed.value.code) == ("token_missing", "token_malformed")


def test_role_check_refuses_a_principal_without_the_role() -> None:
    assert require_role(ALICE, Role.TENDEREE, Role.AGENCY) is ALICE
    with pytest.raises(Forbidden) as err:
        require_role(ALICE, Role.OPERATOR)
    assert err.value.code == "role_required"
    assert err.value.status == 403


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    """Verified tokens are remembered only until their own expiry."""
    issuer = TokenIssuer(Ed25519PrivateKey.generate(), "k1")
    verifier = TokenVerifier(issuer.jwks())
    token = issuer.issue(Principal("u", frozenset({Role.BIDDER})), ttl_s=1)
    assert verifier.verify(token).subject == "u"
    assert verifier.verify(token).subject == "u"  # served from memory
    time.sleep(1.2)
    with pytest.raises(Unauthorized) as err:
        verifier.verify(token)
    assert err.value.code == "token_expired"


def test_single_key_set_refuses_a_valid_signature_under_another_kid() -> None:
    """Signed by the one known key, but the header names another: an unknown key, as
    when the verifier looks the key up by its kid."""
    key = Ed25519PrivateKey.generate()
    known = TokenIssuer(key, "k1")
    with pytest.raises(Unauthorized) as err:
        TokenVerifier(known.jwks()).verify(TokenIssuer(key, "k2").issue(ALICE))
    assert err.value.code == "token_unknown_key"


def test_an_unknown_key_is_reported_before_expiry_or_a_bad_signature() -> None:
    verifier = TokenVerifier(issuer("k1").jwks())
    for token in (issuer("k2").issue(ALICE, ttl_s=-10), issuer("k2").issue(ALICE)):
        with pytest.raises(Unauthorized) as err:
            verifier.verify(token)
        assert err.value.code == "token_unknown_key"
    with pytest.raises(Unauthorized) as bad:
        verifier.verify("not-a-jwt")
    assert bad.value.code == "token_invalid"


def test_a_key_set_of_two_verifies_tokens_of_either_key() -> None:
    first, second = issuer("k1"), issuer("k2")
    verifier = TokenVerifier({"keys": [*first.jwks()["keys"], *second.jwks()["keys"]]})
    assert verifier.verify(first.issue(ALICE)) == ALICE
    assert verifier.verify(second.issue(ALICE)) == ALICE
    with pytest.raises(Unauthorized) as err:
        verifier.verify(issuer("k3").issue(ALICE))
    assert err.value.code == "token_unknown_key"
