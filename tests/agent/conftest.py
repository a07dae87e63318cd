from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.fake_k8s import FakeKubernetes


@pytest.fixture
def fake_k8s() -> Iterator[FakeKubernetes]:
    """The fake API server; the test drives each pod's phases."""
    pytest.importorskip("kubernetes")
    pytest.importorskip("kubernetes_validate")
    with FakeKubernetes() as fake:
        yield fake


@pytest.fixture
def fake_k8s_exec() -> Iterator[FakeKubernetes]:
    """The fake API server whose pods run their command as local processes."""
    pytest.importorskip("kubernetes")
    pytest.importorskip("kubernetes_validate")
    with FakeKubernetes(kubelet="exec") as fake:
        yield fake
