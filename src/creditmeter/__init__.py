"""creditmeter: an exactly-once credit-consumption ledger with GPTBots' bill endpoints."""

__version__ = "0.1.0"
