"""The onecard gateway: aiohttp application, persistence, services, workers and the CLI."""

__version__ = "0.1.0"
