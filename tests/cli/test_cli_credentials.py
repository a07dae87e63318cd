"""`jupyter flows credential …`: the value from stdin or a hidden prompt, never argv."""

from __future__ import annotations

import json
import uuid
from typing import Any

import click
from click.testing import CliRunner

from jupyter_flows.cli.main import cli
from tests.flows_server import FlowsServer

SECRET = "cli-secret-" + uuid.uuid4().hex[:10]


def invoke(server: FlowsServer, *args: str, stdin: str | None = None, **env: Any) -> Any:
    return CliRunner().invoke(
        cli, list(args), input=stdin, env={**server.env(), **env}, catch_exceptions=False
    )


def test_add_ls_rm_and_rotate_key(flows_server: FlowsServer) -> None:
    name = f"warehouse-{uuid.uuid4().hex[:6]}"
    added = invoke(flows_server, "credential", "add", name, stdin=SECRET + "\n")
    assert added.exit_code == 0, added.output
    assert f"runs see it as ${name.upper().replace('-', '_')}" in added.output
    again = invoke(flows_server, "credential", "add", name, stdin=SECRET)
    assert again.exit_code == 1 and "exists" in again.output
    replaced = invoke(
        flows_server,
        "credential",
        "add",
        name,
        "--env",
        "WH_PASSWORD",
        "--replace",
        stdin="v2-value",
    )
    assert replaced.exit_code == 0 and "$WH_PASSWORD" in replaced.output
    listed = invoke(flows_server, "credential", "ls", "--json")
    mine = [c for c in json.loads(listed.output) if c["name"] == name]
    assert mine and mine[0]["env"] == "WH_PASSWORD" and "value" not in mine[0]
    assert SECRET not in listed.output and "v2-value" not in listed.output
    rotated = invoke(flows_server, "credential", "rotate-key", "--json")
    assert rotated.exit_code == 0 and json.loads(rotated.output)["rotated"] >= 1
    assert "Deleted" in invoke(flows_server, "credential", "rm", name).output
    gone = invoke(flows_server, "credential", "rm", name)
    assert gone.exit_code == 1 and name in gone.output


def test_there_is_no_way_to_pass_a_value_as_an_argument(flows_server: FlowsServer) -> None:
    command = cli.commands["credential"]
    assert isinstance(command, click.Group)
    add = command.commands["add"]
    assert [p.name for p in add.params if isinstance(p, click.Argument)] == ["name"]
    assert not {"value", "secret", "password"} & {p.name for p in add.params}
    refused = invoke(flows_server, "credential", "add", "x-y", SECRET)
    assert refused.exit_code == 2  # an extra argument is a usage error, never a value


def test_bad_names_and_empty_values_are_refused(flows_server: FlowsServer) -> None:
    bad = invoke(flows_server, "credential", "add", "Bad_Name", stdin=SECRET)
    assert bad.exit_code == 2 and "lowercase letters, digits" in bad.output
    empty = invoke(flows_server, "credential", "add", "empty-one", stdin="")
    assert empty.exit_code == 2 and "empty" in empty.output
