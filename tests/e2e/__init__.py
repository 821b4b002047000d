"""End-to-end tests: real servers, the collector, ingest and both storage backends."""
