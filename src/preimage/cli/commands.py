# ruff: noqa: I001  (the import order is the order of the commands in --help)
"""Sub-command modules, each named by the commands it holds; importing them registers them with the CLI.

The order of the imports is the order ``preimage --help`` lists the commands in: the work first, training last.
"""

from preimage.cli import features as _features  # noqa: F401  (features, list)
from preimage.cli import invert as _invert  # noqa: F401
from preimage.cli import evaluate as _evaluate  # noqa: F401
from preimage.cli import textures as _textures  # noqa: F401  (textures, restyle)
from preimage.cli import experiment as _experiment  # noqa: F401  (experiment, report)
from preimage.cli import demo as _demo  # noqa: F401
from preimage.cli import explore as _explore  # noqa: F401
from preimage.cli import train as _train  # noqa: F401  (train-classifier, evaluate-classifier, train-decoder, ...)
