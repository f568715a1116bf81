"""Model interface (Strategy), its construction (Factory) and serving shape (Adapter)."""

from .adapter import ModelAdapter
from .base import ModelStrategy
from .factory import available_strategies, build_model

__all__ = ["ModelAdapter", "ModelStrategy", "available_strategies", "build_model"]
