"""Receptive-field arithmetic (placeholder: being written)."""
__all__: list[str] = []
