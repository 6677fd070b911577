"""Output sizes of convolution, transposed convolution and pooling (placeholder: being written)."""
__all__: list[str] = []
