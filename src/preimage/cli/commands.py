# ruff: noqa: I001  (the import order is the order of the commands in --help)
"""Sub-command modules, one per command and named after it; importing them registers them with the CLI.

The order of the imports is the order ``preimage --help`` lists the commands in: the work first, training last.
"""

from preimage.cli import features as _features  # noqa: F401
from preimage.cli import list as _list  # noqa: F401
from preimage.cli import invert as _invert  # noqa: F401
from preimage.cli import evaluate as _evaluate  # noqa: F401
from preimage.cli import textures as _textures  # noqa: F401
from preimage.cli import restyle as _restyle  # noqa: F401
from preimage.cli import experiment as _experiment  # noqa: F401
from preimage.cli import report as _report  # noqa: F401
from preimage.cli import demo as _demo  # noqa: F401
from preimage.cli import explore as _explore  # noqa: F401
from preimage.cli import train_classifier as _train_classifier  # noqa: F401
from preimage.cli import evaluate_classifier as _evaluate_classifier  # noqa: F401
from preimage.cli import train_decoder as _train_decoder  # noqa: F401
from preimage.cli import fit_linear as _fit_linear  # noqa: F401
from preimage.cli import train_hoggles as _train_hoggles  # noqa: F401
from preimage.cli import shrink_checkpoint as _shrink_checkpoint  # noqa: F401
