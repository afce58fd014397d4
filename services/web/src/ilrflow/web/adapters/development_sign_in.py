"""Who may sign in, and the token they get.

Development mode only in this slice: :class:`DevelopmentSignIn` lists a tenant's people (staff
directory and learners, read with a directory-reading development token) and mints the same HS256
token the dev tooling mints (``ilrflow.platform.auth.mint_token``). A production sign-in (OpenID
Connect, authorization code + PKCE) is another implementation of the same role: it ends, like
this one, in a :class:`~ilrflow.web.domain.session.SignedIn` holding a bearer token the APIs
accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from ilrflow.platform.auth import mint_token
from ilrflow.platform.settings import Settings
from ilrflow.web.domain.session import SignedIn
from ilrflow.web.service.lists import every_item
from ilrflow.web.service.ports import Apis

DIRECTORY_READER = "console-sign-in"
LIST_LIMIT = 200


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: list[str]
    groups: list[str]

    @property
    def description(self) -> str:
        groups = f" — groups: {', '.join(self.groups)}" if self.groups else ""
        return f"{', '.join(self.roles)}{groups}"


class DevelopmentSignIn:
    def __init__(self, settings: Settings, apis: Apis) -> None:
        self._settings = settings
        self._apis = apis

    async def people(self, tenant: str) -> list[Person]:
        """The tenant's staff, then its learners (first page), as sign-in choices."""
        reader = mint_token(self._settings, tenant=tenant, sub=DIRECTORY_READER, roles=["support"])
        staff = await every_item(self._apis, reader, "learner", "/v1/staff")
        learners = await self._apis.call(
            reader, "learner", "GET", "/v1/learners", params={"limit": LIST_LIMIT}
        )
        return [Person(s["id"], s["name"], list(s["roles"]), list(s["groups"])) for s in staff] + [
            Person(item["id"], f"{item['given_names']} {item['family_name']}", ["learner"], [])
            for item in learners["items"]
        ]

    async def sign_in(self, tenant: str, person_id: str) -> SignedIn | None:
        """The session of ``person_id``, or None if the tenant has nobody of that id."""
        person = next((p for p in await self.people(tenant) if p.id == person_id), None)
        if person is None:
            return None
        token = mint_token(
            self._settings,
            tenant=tenant,
            sub=person.id,
            roles=person.roles,
            groups=person.groups,
        )
        return SignedIn(
            token=token, sub=person.id, name=person.name, tenant=tenant, roles=person.roles
        )
