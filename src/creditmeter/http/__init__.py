"""The HTTP face: app factory, authentication, routes and the error handler."""

from .app import create_app

__all__ = ["create_app"]
