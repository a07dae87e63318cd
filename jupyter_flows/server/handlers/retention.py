"""``POST retention/prune``: what the retention service would delete now, or delete it now;
``GET retention/default``: the server's own retention, which deployments follow unless
they set theirs."""

from __future__ import annotations

import asyncio
import functools

from jupyter_server.auth.decorator import authorized
from tornado.web import authenticated

from jupyter_flows.server.errors import StorageUnavailable
from jupyter_flows.server.handlers.base import API_PREFIX, FlowsHandler
from jupyter_flows.server.service import deployments


class PruneHandler(FlowsHandler):
    auth_resource = "flows.retention"

    @authenticated
    @authorized
    async def post(self) -> None:
        from jupyter_flows.server.wire import PruneRuns
        from jupyter_flows.storage import StorageError

        body = self.body(PruneRuns, optional=True)
        if body.deployment_id is not None:  # 404 for an unknown one
            await self.run(deployments.read_deployment, body.deployment_id, readonly=True)
        pruner = self.context.pruner
        assert pruner is not None, "FlowsApp sets up retention with the server"
        if body.dry_run:
            work = functools.partial(
                pruner.preview, limit=body.limit, deployment_id=body.deployment_id
            )
        else:
            work = functools.partial(pruner.prune, deployment_id=body.deployment_id)
        loop = asyncio.get_running_loop()  # many short transactions and blob deletes
        try:
            result = await loop.run_in_executor(self.context.runner.executor, work)
        except StorageError as error:
            raise StorageUnavailable(str(error)) from error
        self.reply(result)


class RetentionDefaultHandler(FlowsHandler):
    auth_resource = "flows.retention"

    @authenticated
    @authorized
    def get(self) -> None:
        pruner = self.context.pruner
        assert pruner is not None, "FlowsApp sets up retention with the server"
        policy = pruner.policy
        self.reply(
            {
                "keep_runs": policy.keep_runs,
                "keep_days": policy.keep_days,
                "keep_last_failure": policy.keep_last_failure,
            }
        )


default_handlers = [
    (rf"{API_PREFIX}/retention/prune", PruneHandler),
    (rf"{API_PREFIX}/retention/default", RetentionDefaultHandler),
]
