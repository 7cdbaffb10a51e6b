"""Sub-command modules; importing them registers them with the CLI."""

from preimage.cli import models_cmd as _models_cmd  # noqa: F401
