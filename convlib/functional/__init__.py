"""Every convolution operation in plain numpy, forward and backward (placeholder: being written)."""
__all__: list[str] = []
