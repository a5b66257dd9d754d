"""The onecard gateway: aiohttp application, persistence, services, workers and the CLI."""
