"""Sub-command modules; importing them registers them with the CLI."""

from preimage.cli import explore_cmd as _explore_cmd  # noqa: F401
from preimage.cli import features_cmd as _features_cmd  # noqa: F401
from preimage.cli import invert_cmd as _invert_cmd  # noqa: F401
from preimage.cli import models_cmd as _models_cmd  # noqa: F401
