"""The only place that speaks SQL: engine, tables, migrations and the queries."""

from .engine import Store, open_store

__all__ = ["Store", "open_store"]
