"""Work queues and agents (the claim itself is in test_claim.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.store import Conflict, InvalidInput, NotFound, queues
from jupyter_flows.store.models import Agent
from tests.store.factories import T0


def test_create_read_update_delete(session: Session) -> None:
    queue = queues.create_work_queue(
        session, "gpu", tag_filter=["gpu", "gpu", "a"], concurrency_limit=2, description="GPUs"
    )
    assert queue.tag_filter == ["a", "gpu"]
    with pytest.raises(Conflict):
        queues.create_work_queue(session, "gpu")
    queues.update_work_queue(session, queue.id, paused=True, concurrency_limit=None)
    session.commit()
    session.expire_all()
    loaded = queues.read_work_queue(session, queue.id)
    assert (loaded.paused, loaded.concurrency_limit, loaded.description) == (True, None, "GPUs")
    assert queues.find_work_queue(session, "gpu") is not None
    assert [q.name for q in queues.read_work_queues(session)] == ["gpu"]
    assert queues.delete_work_queue(session, queue.id)
    with pytest.raises(NotFound):
        queues.read_work_queue(session, queue.id)


def test_bad_settings(session: Session) -> None:
    with pytest.raises(InvalidInput):
        queues.create_work_queue(session, "q", concurrency_limit=-1)
    queue = queues.create_work_queue(session, "q")
    queues.create_work_queue(session, "r")
    with pytest.raises(InvalidInput):
        queues.update_work_queue(session, queue.id, colour="red")
    with pytest.raises(Conflict):
        queues.update_work_queue(session, queue.id, name="r")


def test_get_or_create(session: Session) -> None:
    first = queues.get_or_create_work_queue(session, "default")
    assert queues.get_or_create_work_queue(session, "default").id == first.id
    assert (first.paused, first.tag_filter, first.concurrency_limit) == (False, [], None)


def test_agents_register_heartbeat_and_go_silent(session: Session) -> None:
    queue = queues.create_work_queue(session, "q")
    agent = queues.register_agent(session, "host-1", work_queue_id=queue.id, now=T0)
    again = queues.register_agent(session, "host-1", work_queue_id=queue.id, now=T0)
    assert again.id == agent.id
    quiet = queues.register_agent(session, "host-2", now=T0)
    queues.heartbeat(session, agent.id, now=T0 + timedelta(minutes=5))
    session.commit()

    silent = queues.read_silent_agents(session, heard_before=T0 + timedelta(minutes=1))
    assert [a.id for a in silent] == [quiet.id]
    queues.heartbeat(session, quiet.id, status="offline", now=T0 + timedelta(minutes=2))
    session.commit()
    assert queues.read_silent_agents(session, heard_before=T0 + timedelta(minutes=10)) == [
        session.get(Agent, agent.id)
    ]
    assert [a.name for a in queues.read_agents(session, work_queue_id=queue.id)] == ["host-1"]
    assert queues.read_agent(session, quiet.id).status == "offline"
    with pytest.raises(NotFound):
        queues.heartbeat(session, "nobody")
    with pytest.raises(InvalidInput):
        queues.heartbeat(session, agent.id, status="sleepy")


def test_deleting_a_queue_keeps_its_agents(session: Session) -> None:
    queue = queues.create_work_queue(session, "q")
    agent = queues.register_agent(session, "a", work_queue_id=queue.id)
    session.commit()
    queues.delete_work_queue(session, queue.id)
    session.commit()
    session.expire_all()
    assert queues.read_agent(session, agent.id).work_queue_id is None
