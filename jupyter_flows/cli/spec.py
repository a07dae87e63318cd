"""``jupyter flows spec show FLOW[@VERSION]`` and ``spec diff A B``: a version's environment.

``FLOW`` is a flow's name or id (the latest version), ``FLOW@N`` its version number N, or a
version id. ``register`` captures the spec (:func:`capture_options` are its options).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from jupyter_flows.cli.common import (
    CLIError,
    api_errors,
    client,
    console,
    resolve_flow,
    table,
)

if TYPE_CHECKING:
    from jupyter_flows.client import FlowsClient
    from jupyter_flows.spec.capture import Captured

F = TypeVar("F", bound=Callable[..., Any])


def capture_options(fn: F) -> F:
    """The options of ``register`` that shape the captured environment."""
    options = [
        click.option("--no-env", is_flag=True, help="Register without capturing the environment."),
        click.option("--cpu", type=float, help="CPUs the run asks for (default: this machine's)."),
        click.option(
            "--memory", help="Memory the run asks for, e.g. 8Gi (default: this machine's)."
        ),
        click.option("--gpu", type=int, help="GPUs the run asks for."),
        click.option(
            "--gpu-type", help="The GPU model, e.g. A100 (a node selector on Kubernetes)."
        ),
        click.option("--disk", help="Scratch disk the run asks for, e.g. 20Gi."),
        click.option(
            "--credential", "credentials", multiple=True, help="A credential the run gets, by name."
        ),
        click.option(
            "--start-script",
            type=click.Path(dir_okay=False, exists=True),
            help="A shell script run before the flow.",
        ),
        click.option("--image", help="The container image of Kubernetes runs."),
        click.option(
            "--store-secrets/--no-store-secrets",
            default=None,
            help="Store the variables left out as secrets, which this shell also holds, as "
            "credentials the runs get (default: ask, when at a terminal).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def capture(file: str, settings: dict[str, Any]) -> Captured | None:
    """The environment ``register`` sends with FILE (None with --no-env).

    Variables left out because they look secret are named; those this shell holds too are
    offered to be stored as credentials (``--store-secrets``), and the ones stored join
    ``settings["credentials"]``, the credentials the runs get.
    """
    if settings.get("no_env"):
        return None
    from jupyter_flows.spec.capture import CaptureError, capture_for_file
    from jupyter_flows.spec.resource_spec import ResourceSpecError

    hardware = {
        key: settings[key]
        for key in ("cpu", "memory", "gpu", "gpu_type", "disk")
        if settings.get(key) is not None
    }
    script = settings.get("start_script")
    try:
        with console().status(f"Capturing the environment of {file}…"):
            captured = capture_for_file(
                file,
                hardware=hardware,
                credentials=settings.get("credentials") or (),
                start_script=Path(script).read_text(encoding="utf-8") if script else None,
                container_image=settings.get("image"),
            )
    except (CaptureError, ResourceSpecError) as error:
        raise CLIError(str(error)) from None
    if not captured.dropped_env:
        return captured
    stored = store_secrets(client(), captured.dropped_env, settings.get("store_secrets"))
    if stored:
        settings["credentials"] = (*(settings.get("credentials") or ()), *stored)
        # Captured again: the stored ones are now the spec's credential references.
        return capture(file, {**settings, "store_secrets": False})
    given = set(settings.get("credentials") or ())
    left = [v for v in captured.dropped_env if credential_name(v) not in given]
    if not left:
        return captured
    console().print(
        "Left out of the environment (they look secret): "
        f"{', '.join(left)}; to give them to runs, store each as a "
        "credential (`jupyter flows credential add NAME --env VAR`) and name it with "
        "--credential, or register again with --store-secrets."
    )
    return captured


def credential_name(variable: str) -> str:
    """The credential a secret variable is stored as: ``OPENAI_API_KEY`` → ``openai-api-key``."""
    return re.sub(r"[^a-z0-9]+", "-", variable.lower()).strip("-")


def store_secrets(api: FlowsClient, variables: list[str], choice: bool | None) -> list[str]:
    """Store the left-out ``variables`` this process holds as credentials (each asked
    about when ``choice`` is None and stdin is a terminal); the names of those now stored.

    A credential of that name already stored is used as it is (its value is not replaced).
    """
    held = [v for v in variables if os.environ.get(v)]
    if choice is False or not held or (choice is None and not sys.stdin.isatty()):
        return []
    existing = {c.name for c in api.iterate(api.list_credentials)}
    names = []
    for variable in held:
        name = credential_name(variable)
        if not name:
            continue
        if name in existing:
            click.echo(f"Runs get ${variable} from the stored credential {name!r}.")
            names.append(name)
            continue
        question = f"Store ${variable} as the credential {name!r}, so runs get it?"
        if choice is None and not click.confirm(question, default=False):
            continue
        api.create_credential(name, os.environ[variable], env=variable)
        click.echo(f"Stored credential {name} (runs see it as ${variable})")
        names.append(name)
    return names


@click.group()
def spec() -> None:
    """A flow version's environment (its ResourceSpec): show it, compare two."""


@spec.command("show")
@click.argument("ref", metavar="FLOW[@VERSION]")
@click.option("--json", "as_json", is_flag=True, help="Print the spec as JSON.")
@api_errors
def show(ref: str, as_json: bool) -> None:
    """The environment FLOW's latest version (or FLOW@N's) was registered with."""
    api = client()
    version_id = resolve_version(api, ref)
    answer = api.get_resource_spec(version_id)
    document = answer["resource_spec"]
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    out = console()
    if document is None:
        out.print(f"Version {version_id} was registered without an environment.")
        return
    image, hardware = document["image"], document["hardware"]
    python = image["python"]
    out.print(
        f"Python {python['version']} ({python['implementation']}) on {image['platform']}, "
        f"kernel spec {image.get('kernel_spec') or '-'}, "
        f"{len(image['packages'])} packages, hash {answer['resource_spec_hash'][:12]}"
    )
    gpu = hardware.get("gpu") or {}
    out.print(
        f"Hardware: {hardware['cpu']} CPU, {hardware['memory']} memory, "
        f"{gpu.get('count', 0)} GPU{' ' + gpu['type'] if gpu.get('type') else ''}, "
        f"disk {hardware.get('disk') or '-'}; image {document.get('container_image') or '-'}"
    )
    if document.get("credentials"):
        out.print(f"Credentials: {', '.join(document['credentials'])}")
    files = document.get("working_files")
    if files:
        out.print(f"Working files: {files['files']} from {files['folder']}")
    grid = table("PACKAGE", "VERSION", "FROM")
    for package in image["packages"]:
        origin = package.get("origin")
        grid.add_row(package["name"], package["version"], origin["url"] if origin else "")
    out.print(grid)
    if document.get("env"):
        out.print(f"Environment variables: {', '.join(sorted(document['env']))}")


@spec.command("diff")
@click.argument("old", metavar="A")
@click.argument("new", metavar="B")
@api_errors
def diff(old: str, new: str) -> None:
    """What changed in the environment from A to B (each FLOW@N or a version id)."""
    api = client()
    answer = api.diff_resource_specs(resolve_version(api, new), resolve_version(api, old))
    if not answer["changes"]:
        click.echo("The environments are the same.")
        return
    click.echo("; ".join(answer["changes"]))


def resolve_version(api: FlowsClient, ref: str) -> str:
    """A version id from ``FLOW``, ``FLOW@N`` or a version id."""
    flow_ref, _, number = ref.rpartition("@") if "@" in ref else (ref, "", "")
    if not number and re.fullmatch(r"[0-9a-f]{64}", ref):
        return ref
    group = resolve_flow(api, flow_ref)
    if not number:
        if group.latest_version_id is None:
            raise CLIError(f"flow {flow_ref!r} has no version")
        return group.latest_version_id
    if not number.isdigit():
        raise CLIError(f"{ref!r}: the version after @ is a number, e.g. {flow_ref}@2")
    for version in api.iterate(api.list_flow_versions, group.id):
        if version.version_number == int(number):
            return version.id
    raise CLIError(f"flow {flow_ref!r} has no version {number}")
