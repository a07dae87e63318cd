"""Authentication and authorization of a team server: API keys beside Jupyter's token.

:class:`FlowsIdentityProvider` accepts ``Authorization: Bearer jf_…`` (or ``?token=jf_…``,
which is how a browser's WebSocket sends credentials) and looks the key up in the store;
anything else goes to jupyter-server's own token and cookie authentication. The user it
returns is a :class:`KeyUser` carrying the key's role. A key found valid is trusted for
``key_cache_seconds`` (5 s) without asking the store again: agents and clients send a key
with every request, and a store lookup is a transaction of its own. Revoking a key through
this server forgets every trusted key at once; a key revoked through another server on the
same database stops working here within ``key_cache_seconds``.

:class:`FlowsAuthorizer` lets a *user* key do everything the REST API offers, an *agent* key
only what agents do, for its own agents and the runs they hold (``server/access.py``: claim,
heartbeat, report the states and logs of held runs, read them), and neither touch the rest
of the Jupyter server (kernels, contents, terminals): a team server
hands out keys, and a key must not be a shell. Users authenticated by the server's own
token keep every right, as in any Jupyter server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from traitlets import Float

from jupyter_flows.server.context import SETTINGS_KEY
from jupyter_flows.store.keys import TOKEN_PREFIX, hash_token


@dataclass
class KeyUser(User):
    """A request authenticated by an API key."""

    role: str = "user"
    key_id: str = ""


def api_key_of(handler: web.RequestHandler) -> str | None:
    """The ``jf_…`` token a request carries, if any."""
    header = handler.request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() in ("bearer", "token") and value.startswith(TOKEN_PREFIX):
        return value
    query = handler.get_query_argument("token", "")
    return query if query.startswith(TOKEN_PREFIX) else None


class FlowsIdentityProvider(IdentityProvider):
    """API keys first (``jf_…``), then jupyter-server's token and cookie."""

    key_cache_seconds = Float(
        5.0,
        config=True,
        help="How long a verified API key is trusted without a store lookup (0: never). "
        "Keys revoked through this server stop working at once regardless.",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: sha256 of a token -> (the key's id, name and role, when to look it up again).
        self._trusted: dict[str, tuple[dict[str, str], float]] = {}

    def forget_keys(self) -> None:
        """Look every key up in the store again (after a revocation)."""
        self._trusted.clear()

    async def get_user(self, handler: web.RequestHandler) -> User | None:  # type: ignore[override]
        token = api_key_of(handler)
        if token is None:
            return await self._get_user(handler)
        cached = getattr(handler, "_jupyter_current_user", None)
        if isinstance(cached, KeyUser):
            return cached
        key = await self._verify(handler, token)
        if key is None:
            return None  # a wrong or revoked key: 401, never a fall-back to the token
        # Like a Jupyter token: an explicit credential, so no XSRF check and no cookie.
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return KeyUser(
            username=f"key-{key['id']}",
            name=key["name"],
            display_name=f"{key['name']} ({key['role']} key)",
            role=key["role"],
            key_id=key["id"],
        )

    async def _verify(self, handler: web.RequestHandler, token: str) -> dict[str, str] | None:
        digest = hash_token(token)
        now = time.monotonic()
        trusted = self._trusted.get(digest)
        if trusted is not None and now < trusted[1]:
            return trusted[0]
        context = handler.settings.get(SETTINGS_KEY)
        if context is None:
            return None
        from jupyter_flows.server.service import keys

        key: dict[str, str] | None = await context.runner(keys.authenticate, token)
        if key is None:
            self._trusted.pop(digest, None)
        elif self.key_cache_seconds > 0:
            if len(self._trusted) >= _MAX_TRUSTED_KEYS:
                self._trusted.clear()
            self._trusted[digest] = (key, now + self.key_cache_seconds)
        return key


#: Bounds the cache of verified keys (a team has far fewer keys in use at once).
_MAX_TRUSTED_KEYS = 10_000


class FlowsAuthorizer(Authorizer):
    """User keys: the REST API. Agent keys: the operations whose handler names them in its
    ``agent_access`` (``server/access.py`` then limits them to the key's own agents and the
    runs those hold). Else 403."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if not isinstance(user, KeyUser):
            return True  # the server's own token or login: every right, as in Jupyter
        if not resource.startswith("flows."):
            return False
        if user.role == "agent":
            method = getattr(getattr(handler, "request", None), "method", "") or ""
            access: dict[str, str] = getattr(handler, "agent_access", {}) or {}
            return method in access
        return user.role == "user"
