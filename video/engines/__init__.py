"""Media engines: `get_engine(app)` builds the one the settings name, once per app."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from video.engines.base import MediaEngine, MediaError, Segment

if TYPE_CHECKING:
    from flask import Flask

EXTENSION_KEY = "video.engine"
_lock = threading.Lock()


def build_engine(settings: object) -> MediaEngine:
    """A new, not yet started engine for `settings` (PORTAL_MEDIA_ENGINE)."""
    kind = getattr(settings, "media_engine", "aiortc") or "aiortc"
    if kind == "aiortc":
        from video.engines.aiortc_engine import AiortcEngine

        return AiortcEngine(settings)
    if kind == "janus":
        from video.engines.janus_engine import JanusEngine

        engine: MediaEngine = JanusEngine(settings)
        return engine
    raise MediaError(f"unknown media engine {kind!r}: PORTAL_MEDIA_ENGINE is aiortc or janus")


def get_engine(app: Flask) -> MediaEngine:
    """The app's engine, built on first use from the app's Settings and kept in
    `app.extensions["video.engine"]`. Starting it (`engine.start()`) is the caller's
    business (lazily, on the first room that needs media)."""
    engine: MediaEngine | None = app.extensions.get(EXTENSION_KEY)
    if engine is not None:
        return engine
    with _lock:
        engine = app.extensions.get(EXTENSION_KEY)
        if engine is None:
            from portal.app import settings_of

            engine = build_engine(settings_of(app))
            app.extensions[EXTENSION_KEY] = engine
    return engine


def current_engine() -> MediaEngine:
    """The engine of the app handling this request or event."""
    from flask import current_app

    return get_engine(current_app._get_current_object())  # type: ignore[attr-defined]


__all__ = ["EXTENSION_KEY", "MediaEngine", "MediaError", "Segment", "build_engine",
           "current_engine", "get_engine"]
