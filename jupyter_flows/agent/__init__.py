"""Agents: claim flow runs from a work queue and run them on an infrastructure.

An agent talks to the server only through ``jupyter_flows.client``; where a run's process
runs is an ``Infrastructure`` from ``jupyter_flows.agent.infra``.
"""
