"""API keys (user keys and the server's own token only): create, list, revoke."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import keys


class ApiKeysHandler(FlowsHandler):
    auth_resource = "flows.api_keys"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(await self.run(keys.list_keys, limit=limit, offset=offset, readonly=True))

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateApiKey

        key = await self.run(keys.create_key, self.body(CreateApiKey))
        self.reply(key, 201, location=f"api-keys/{key['id']}")


class ApiKeyHandler(FlowsHandler):
    auth_resource = "flows.api_keys"

    @authenticated
    @authorized
    async def delete(self, key_id: str) -> None:
        await self.run(keys.revoke_key, key_id)
        forget_keys = getattr(self.identity_provider, "forget_keys", None)
        if forget_keys is not None:  # a revoked key must not stay trusted for a moment
            forget_keys()
        self.no_content()


default_handlers = [
    (rf"{API_PREFIX}/api-keys", ApiKeysHandler),
    (rf"{API_PREFIX}/api-keys/(?P<key_id>[^/]+)", ApiKeyHandler),
]
