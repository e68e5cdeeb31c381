"""bulletin: a self-hosted broadcast engine for Telegram bots."""

__version__ = "0.1.0"
