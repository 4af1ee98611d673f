"""Socket.IO in the core: deny by default. The default namespace takes logged-in users
only; domains add namespaces of their own, each checking its own rights on connect and
on every event (a petitioner's join link, for instance)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import current_user
from flask_socketio import join_room

from portal.extensions import socketio


def user_room(user_id: int) -> str:
    """Every connection of a user joins this room, so the server can reach all their tabs."""
    return f"user:{user_id}"


def _on_connect(auth: Any = None) -> bool:
    if not current_user.is_authenticated:
        return False  # refused: the client gets a connect_error
    join_room(user_room(current_user.id))
    return True


def init_app(app: Flask) -> None:
    socketio.on_event("connect", _on_connect)
