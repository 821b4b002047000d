"""Real third-party servers for the tests, started on loopback with free ports.

One module per server (postgres, s3, mlserver, prometheus); the root
``tests/conftest.py`` registers them as pytest plugins. Each pytest-xdist
worker starts its own instance of a server the first time one of its tests
asks for it (a second or two each), so that a test which restarts or stops a
server never disturbs the other worker. The binaries come from
``make services`` (scripts/install-services.sh); a missing one fails the
test with that hint instead of skipping it.
"""
