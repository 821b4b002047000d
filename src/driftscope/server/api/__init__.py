"""REST API versions."""
