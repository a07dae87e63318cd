"""`jupyter flows credential …`: add, ls, rm, rotate-key.

A value is read from a prompt (hidden) or from stdin, never from the command line: argv is
visible to every user of the machine (``ps``) and stays in shell histories.
"""

from __future__ import annotations

import json
import sys

import click

from jupyter_flows.cli.common import (
    api_errors,
    client,
    console,
    json_option,
    print_json,
    table,
    when,
)


@click.group("credential")
def credential() -> None:
    """Credentials: encrypted on the server, injected into the runs that reference them,
    redacted from everything those runs report."""


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(f"Value of {name}", hide_input=True, confirmation_prompt=True))
    value = sys.stdin.read()
    # One trailing newline is how `echo` and files end; the value is what comes before it.
    return value[:-1] if value.endswith("\n") else value


@credential.command("add")
@click.argument("name")
@click.option(
    "--env",
    "env",
    metavar="VAR",
    help="The variable runs see it in (default: NAME upper-cased, dashes as underscores).",
)
@click.option("--replace", is_flag=True, help="Replace the value of an existing credential.")
@json_option
@api_errors
def credential_add(name: str, env: str | None, replace: bool, as_json: bool) -> None:
    """Store credential NAME (lowercase letters, digits, dashes); its value comes from a
    hidden prompt, or from stdin when stdin is not a terminal."""
    from jupyter_flows.credentials import CredentialError, check_name

    try:  # before asking for a value that could not be stored
        check_name(name)
    except CredentialError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    value = _read_value(name)
    if not value:
        raise click.UsageError("the value is empty")
    made = client().create_credential(name, value, env=env, replace=replace)
    if as_json:
        print_json(made)
        return
    console().print(f"Stored credential {made.name} (runs see it as ${made.env})")


@credential.command("ls")
@json_option
@api_errors
def credential_ls(as_json: bool) -> None:
    """List credentials (names and variables; never values)."""
    api = client()
    items = list(api.iterate(api.list_credentials))
    if as_json:
        print_json(items)
        return
    grid = table("NAME", "ENV", "UPDATED")
    for c in items:
        grid.add_row(c.name, c.env, when(c.updated))
    console().print(grid if items else "No credentials.")


@credential.command("rm")
@click.argument("name")
@api_errors
def credential_rm(name: str) -> None:
    """Delete credential NAME."""
    client().delete_credential(name)
    console().print(f"Deleted credential {name}")


@credential.command("rotate-key")
@json_option
@api_errors
def credential_rotate_key(as_json: bool) -> None:
    """Re-encrypt every credential with a new key (the server's key file is replaced)."""
    done = client().rotate_credentials_key()
    if as_json:
        click.echo(json.dumps(done))
        return
    console().print(f"Re-encrypted {done.get('rotated', 0)} credentials with a new key")
