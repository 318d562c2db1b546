"""Alembic runs migrations on the connection creditmeter hands it (see store.engine)."""

from alembic import context

from creditmeter.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
