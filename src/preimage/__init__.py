"""preimage: turn features back into images."""

__version__ = "0.1.0"
