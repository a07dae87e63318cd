"""Credentials (user keys only): create, list, delete, rotate the key; and a claimed run's
values, for the holder of its lease."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import credentials


class CredentialsHandler(FlowsHandler):
    auth_resource = "flows.credentials"

    @authenticated
    @authorized
    async def get(self) -> None:
        limit, offset = self.page_args()
        self.reply(
            await self.run(credentials.list_credentials, limit=limit, offset=offset, readonly=True)
        )

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import CreateCredential

        body = self.body(CreateCredential)
        made = await self.run(credentials.create_credential, self.context.keyring, body)
        created = made.pop("created_now")
        self.reply(made, 201 if created else 200, location=f"credentials/{made['name']}")


class CredentialHandler(FlowsHandler):
    auth_resource = "flows.credentials"

    @authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.run(credentials.delete_credential, name)
        self.no_content()


class RotateKeyHandler(FlowsHandler):
    auth_resource = "flows.credentials"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.credentials import CredentialError
        from jupyter_flows.server.errors import Conflict

        keyring = self.context.keyring
        try:
            new = keyring.begin_rotation()
        except CredentialError as error:
            raise Conflict(str(error)) from None
        try:
            done = await self.run(credentials.reencrypt_all, keyring, new)
        except BaseException:
            keyring.abort_rotation()
            raise
        keyring.finish_rotation()
        self.reply(done)


class RunCredentialsHandler(FlowsHandler):
    """``POST flow-runs/{id}/credentials {lease}``: the values, for the run's current
    attempt only (a POST: no read of the API returns a value, and the lease is a secret)."""

    auth_resource = "flows.run_credentials"
    agent_access = {"POST": "run"}

    @authenticated
    @authorized
    async def post(self, flow_run_id: str) -> None:
        from jupyter_flows.server.wire import RunCredentials

        body = self.body(RunCredentials)
        self.set_header("Cache-Control", "no-store")
        self.reply(
            await self.run(
                credentials.run_credentials, self.context.keyring, flow_run_id, body.lease
            )
        )


default_handlers = [
    (rf"{API_PREFIX}/credentials", CredentialsHandler),
    (rf"{API_PREFIX}/credentials/rotate-key", RotateKeyHandler),
    (rf"{API_PREFIX}/credentials/(?P<name>[a-z0-9-]+)", CredentialHandler),
    (rf"{API_PREFIX}/flow-runs/(?P<flow_run_id>[^/]+)/credentials", RunCredentialsHandler),
]
