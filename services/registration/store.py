"""Registration's own MongoDB collections (no other service reads them).

Aggregates (entities, experts, partners) go through the runtime's outbox
writes; users and the token signing key are plain documents of this service.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Doc
from ggzy.runtime.errors import Conflict
from ggzy.runtime.keys import signing_key

SIGNING_KEY_ID = "token-signing"


class RegistrationStore:
    """Users and keys of the registration service."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db
        self.users = db["users"]
        self.keys = db["keys"]
        self.entities = db["entities"]

    async def setup(self) -> None:
        """Indexes this service relies on."""
        await self.users.create_index("uscc")
        await self.entities.create_index("name")

    async def signing_key(self, pem_file: str = "") -> tuple[Ed25519PrivateKey, str]:
        """The token signing key (from a file if given, else kept in the store)."""
        return await signing_key(self.db, SIGNING_KEY_ID, pem_file)

    async def add_user(self, user: dict[str, Any]) -> None:
        """Create a user; Conflict if the user name is taken."""
        try:
            await self.users.insert_one(user)
        except DuplicateKeyError:
            raise Conflict("user_exists", f"user {user['_id']} already exists",
                           existing_id=user["_id"]) from None

    async def ensure_user(self, user: dict[str, Any]) -> None:
        """Create a user unless it exists (bootstrap operator)."""
        await self.users.update_one({"_id": user["_id"]}, {"$setOnInsert": user}, upsert=True)

    async def user(self, username: str) -> Doc | None:
        """A user by name."""
        return await self.users.find_one({"_id": username})

    async def users_of(self, uscc: str) -> list[Doc]:
        """Users of one entity (without password hashes)."""
        cursor = self.users.find({"uscc": uscc}, {"password": 0})
        return await cursor.to_list(None)
