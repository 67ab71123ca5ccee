"""A service's Ed25519 signing key: from a PEM file, or generated once and kept in its store."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Doc


async def signing_key(db: AsyncDatabase[Doc], key_id: str,
                      pem_file: str = "") -> tuple[Ed25519PrivateKey, str]:
    """The key and its id. Two replicas starting at once agree on one stored key:
    the second insert fails on the unique id and reads the first's key."""
    if pem_file:
        key = serialization.load_pem_private_key(
            await asyncio.to_thread(Path(pem_file).read_bytes), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{pem_file} must hold an Ed25519 private key")
        return key, f"{key_id}-file"
    fresh = Ed25519PrivateKey.generate()
    pem = fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    with contextlib.suppress(DuplicateKeyError):
        await db["keys"].insert_one({"_id": key_id, "pem": pem, "kid": f"{key_id}-1"})
    doc = await db["keys"].find_one({"_id": key_id}) or {}
    stored = serialization.load_pem_private_key(doc["pem"].encode(), password=None)
    if not isinstance(stored, Ed25519PrivateKey):
        raise ValueError(f"stored key {key_id} is not Ed25519")
    return stored, str(doc["kid"])
