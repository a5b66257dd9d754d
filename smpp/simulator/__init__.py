"""The SMSC simulator: a real SMPP 3.4 server for development, tests and the embedded gateway."""

from smpp.simulator.config import Faults, IdStyle, Route, SmscConfig, Unrouted, User
from smpp.simulator.model import SimMessage
from smpp.simulator.smsc import NETWORK, Smsc

__all__ = [
    "NETWORK",
    "Faults",
    "IdStyle",
    "Route",
    "SimMessage",
    "Smsc",
    "SmscConfig",
    "Unrouted",
    "User",
]
