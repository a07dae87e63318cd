"""The ``jupyter flows`` command group: global options, and every command added to it.

Every command talks to the server at ``--url`` (or ``JUPYTER_FLOWS_API_URL``) with
``--api-key`` (``JUPYTER_FLOWS_API_KEY``) or a jupyter-server ``--token``
(``JUPYTER_FLOWS_API_TOKEN``); ``jupyter flows server`` starts one. Errors are one line on
stderr and a non-zero exit: 1 for a refusal or an unreachable server, 2 for bad arguments.
"""

from __future__ import annotations

import click

from jupyter_flows.cli import (
    admin,
    agents,
    backfill,
    credentials,
    flows,
    inspect,
    notify,
    runs,
    spec,
)
from jupyter_flows.engine import run_env


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar=run_env.API_URL,
    metavar="URL",
    help="The API root, e.g. http://127.0.0.1:8888/api/flows/ [env JUPYTER_FLOWS_API_URL].",
)
@click.option(
    "--api-key",
    envvar=run_env.API_KEY,
    metavar="KEY",
    help="An API key of a standalone server [env JUPYTER_FLOWS_API_KEY].",
)
@click.option(
    "--token",
    envvar=run_env.API_TOKEN,
    metavar="TOKEN",
    help="A jupyter-server token [env JUPYTER_FLOWS_API_TOKEN].",
)
@click.version_option(package_name="jupyter_flows", prog_name="jupyter flows")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, token: str | None) -> None:
    """Register flows, run deployments and follow runs on a jupyter-flows server."""
    ctx.ensure_object(dict)
    ctx.obj["options"] = {"url": url, "api_key": api_key, "token": token}


for command in (
    flows.register,
    flows.deployment,
    flows.run,
    runs.runs,
    runs.logs,
    runs.cancel,
    runs.artifacts,
    runs.watch,
    admin.work_queue,
    agents.agent,
    agents.pending,
    admin.api_key,
    credentials.credential,
    notify.notify,
    notify.automation,
    admin.server,
    inspect.inspect,
    spec.spec,
):
    cli.add_command(command)

for command in (backfill.backfill, backfill.backfill_cancel, backfill.retention):
    flows.deployment.add_command(command)
