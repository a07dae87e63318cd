"""What a flow is, as data: registration bodies built from code (and, later, ResourceSpecs)."""
