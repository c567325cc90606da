"""Helpers for people reading and debugging graphs."""
from .dot import to_dot

__all__ = ["to_dot"]
