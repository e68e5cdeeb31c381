"""A local Telegram Bot API server for tests and the demo; shares no code with the client."""

from bulletin.sandbox.faults import Fault, Faults
from bulletin.sandbox.ledger import LedgerEntry, Stats
from bulletin.sandbox.server import Sandbox, run_forever
from bulletin.sandbox.world import Bot, Chat, ChatKind, ChatState, World

__all__ = [
    "Bot",
    "Chat",
    "ChatKind",
    "ChatState",
    "Fault",
    "Faults",
    "LedgerEntry",
    "Sandbox",
    "Stats",
    "World",
    "run_forever",
]
