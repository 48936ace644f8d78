"""chronotope's REST layer: a FastAPI application over a store (see api/README.md)."""

from chronotope_api.app import create_app
from chronotope_api.settings import Settings, load_settings

__all__ = ["create_app", "Settings", "load_settings"]
