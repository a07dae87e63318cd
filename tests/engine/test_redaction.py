"""Redaction by value: every form a credential leaks in, split writes, the run's reporter."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine.http_reporter import HttpReporter
from jupyter_flows.engine.redaction import (
    MASK,
    LogBoundary,
    Redactor,
    environment_redactor,
)
from jupyter_flows.engine.run_env import REDACT_ENV, RunEnv
from tests.engine.test_http_reporter import (  # noqa: F401 (fixtures)
    IngestServer,
    make_reporter,
    server,
)

SECRET = "hunter2-Xq9!zz/+="
FORMS = {
    "plain": SECRET,
    "base64": base64.b64encode(SECRET.encode()).decode(),
    "base64 url-safe": base64.urlsafe_b64encode(SECRET.encode()).decode(),
    "base64 of user:value": base64.b64encode(f"user:{SECRET}".encode()).decode(),
    "base64 of a longer text": base64.b64encode(f"ab:{SECRET}:cd".encode()).decode(),
    "quote": quote(SECRET, safe=""),
    "quote_plus": quote_plus(SECRET),
    "JSON": json.dumps({"p": SECRET}),
}


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_a_value_is_masked(form: str) -> None:
    text = f"before {FORMS[form]} after"
    redacted = Redactor([SECRET]).redact(text)
    assert MASK in redacted and redacted.startswith("before ")
    for shown in FORMS.values():
        # Nothing long enough to recover the value is left (base64 keeps a few edge chars).
        assert shown not in redacted


def test_ordinary_text_is_left_alone_and_short_values_are_not_redacted() -> None:
    redactor = Redactor([SECRET, "ab"])
    assert redactor.redact("nothing secret here: ab") == "nothing secret here: ab"
    assert not Redactor([]) and not Redactor(["abc"])


def test_scrub_reaches_every_string_at_any_depth() -> None:
    value = {"rows": [[SECRET, 1]], SECRET: ("x", SECRET), "n": 3}
    assert Redactor([SECRET]).scrub(value) == {"rows": [[MASK, 1]], MASK: ["x", MASK], "n": 3}


@pytest.mark.parametrize("cut", [1, 4, 9, len(SECRET) - 1])
def test_a_value_split_across_two_writes_is_masked(cut: int) -> None:
    boundary = LogBoundary(Redactor([SECRET]))
    first = boundary.feed("run", f"password: {SECRET[:cut]}", 1)
    second = boundary.feed("run", f"{SECRET[cut:]} and on", 2)
    lines = [text for text, _ in first + second]
    assert lines == [f"password: {MASK}", " and on"]


def test_a_held_line_goes_out_as_it_is_when_the_next_does_not_complete_it() -> None:
    boundary = LogBoundary(Redactor([SECRET]))
    assert boundary.feed("run", "ends with hunt", 1) == []
    assert boundary.feed("other", "another stream", 2) == [("another stream", 2)]
    assert boundary.feed("run", "ing season", 3) == [("ends with hunt", 1), ("ing season", 3)]
    assert boundary.feed("run", "done.", 4) == [("done.", 4)]


@pytest.mark.parametrize("cut", [1, 2, 6])
def test_a_line_released_after_waiting_masks_the_rest_when_it_comes(cut: int) -> None:
    boundary = LogBoundary(Redactor([SECRET]))
    assert boundary.feed("run", f"pw {SECRET[:cut]}", 1) == []
    assert boundary.release(older_than=60) == []  # not waited long enough yet
    (released,) = boundary.release(older_than=0)
    assert released == ((f"pw {MASK}" if cut >= 3 else f"pw {SECRET[:cut]}"), 1)
    assert boundary.feed("run", f"{SECRET[cut:]} end", 2) == [(f"{MASK} end", 2)]
    assert boundary.feed("run", f"{SECRET[cut:]} end", 3) == [(f"{SECRET[cut:]} end", 3)]


def test_the_run_process_reads_its_values_from_the_variables_named() -> None:
    environ = {"DB_PASSWORD": SECRET, "OTHER": "not-a-credential", REDACT_ENV: "DB_PASSWORD"}
    redactor = environment_redactor(environ)
    assert redactor.values == [SECRET]
    assert RunEnv.from_environ(environ).redact_env == ("DB_PASSWORD",)
    assert RunEnv(redact_env=("A", "B")).to_environ() == {REDACT_ENV: "A,B"}


def test_the_http_reporter_sends_no_value(
    server: IngestServer,  # noqa: F811
    make_reporter: Callable[..., HttpReporter],  # noqa: F811
) -> None:
    rep = make_reporter(server.url, redactor=Redactor([SECRET]))

    @task
    def leak(x: str) -> str:
        log = get_run_logger()
        log.info("the value is %s", x)
        log.info("half: %s", x[:6])
        log.info("%s, the other half", x[6:])
        raise ValueError(f"bad password {x}")

    @flow
    def leaky(x: str) -> Any:
        return leak(x)

    from jupyter_flows.engine.reporter import use_reporter

    with use_reporter(rep), pytest.raises(ValueError):
        leaky(SECRET)
    rep.flush()
    sent = json.dumps(server.batches)
    assert SECRET not in sent and SECRET[6:] not in sent
    messages = [r["message"] for r in server.records("logs")]
    assert "the value is ***" in messages
    assert "half: ***" in messages and ", the other half" in messages
    states = [s["message"] or "" for s in server.records("states")]
    assert any("bad password ***" in m for m in states), states
