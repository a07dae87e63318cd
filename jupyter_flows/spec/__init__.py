"""What a flow is, as data: the FlowSpec (flow_spec.py) and the converters that produce it
from code (python_flows.py for a module of @flows, notebook_flows.py for a notebook or a
script); the ResourceSpec will join them here."""
