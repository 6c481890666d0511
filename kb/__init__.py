"""kb: a verified field guide to PyTorch failures."""

__version__ = "0.1.0"
