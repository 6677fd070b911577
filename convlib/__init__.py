"""convlib — ConvBook's library.

Every convolution operation in plain numpy (forward and backward), output-size and
receptive-field arithmetic, and — in modules that import torch / matplotlib / ipywidgets
only when you import them — blocks, models, cost, drawings and explorers.

``import convlib`` imports numpy only, so the core runs where torch cannot.
"""

from convlib import arithmetic, functional, receptive_field

__version__ = "0.1.0"
__all__ = ["arithmetic", "functional", "receptive_field", "__version__"]
