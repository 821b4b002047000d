"""Service functions shared by the REST API, the scheduler and the CLI.

:mod:`driftscope.service.monitoring` wires the pure monitoring engine to the
record store: reference datasets, monitoring runs, results and alerts.
:mod:`driftscope.service.reference` reads and checks reference datasets.
"""
