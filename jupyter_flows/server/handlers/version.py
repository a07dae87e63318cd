"""GET /api/flows/version: proves the server extension is installed and reachable."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows._version import __version__
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler


class VersionHandler(FlowsHandler):
    auth_resource = "flows.version"
    agent_access = {"GET": "any"}

    @authenticated
    @authorized
    def get(self) -> None:
        self.finish({"version": __version__})


default_handlers = [(rf"{API_PREFIX}/version", VersionHandler)]
