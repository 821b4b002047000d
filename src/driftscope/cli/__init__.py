"""The ``driftscope`` command line."""
