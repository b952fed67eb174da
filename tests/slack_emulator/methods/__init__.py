"""Handlers of the Web API methods the emulator implements, by method name.

Importing the modules below registers their handlers in `METHODS`.
"""

from . import chat, conversations, directory, files, views  # noqa: F401
from .base import METHODS, ApiCall, Args

__all__ = ["METHODS", "ApiCall", "Args"]
