"""`jupyter flows server` offers every option the standalone server's module accepts."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from jupyter_flows.cli.admin import server
from jupyter_flows.server import standalone


def _module_options() -> set[str]:
    import argparse

    captured: dict[str, Any] = {}
    real = argparse.ArgumentParser.parse_args

    def capture(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        captured["parser"] = self
        return real(self, [])

    argparse.ArgumentParser.parse_args = capture  # type: ignore[method-assign]
    try:
        standalone.parse_args([])
    finally:
        argparse.ArgumentParser.parse_args = real  # type: ignore[method-assign]
    return {
        option
        for action in captured["parser"]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_every_option_of_the_module_is_an_option_of_the_command() -> None:
    offered = {option for param in server.params for option in getattr(param, "opts", [])}
    assert _module_options() <= offered


def test_the_options_reach_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(standalone, "main", lambda argv: seen.append(argv) or 0)
    result = CliRunner().invoke(
        server, ["--max-body-bytes", "1000", "--reaper-threshold", "3", "--log-level", "WARNING"]
    )
    assert result.exit_code == 0, result.output
    args = standalone.parse_args(seen[0])
    assert (args.max_body_bytes, args.reaper_threshold, args.log_level) == (1000, 3.0, "WARNING")
