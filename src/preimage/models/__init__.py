"""The networks to invert: torchvision-compatible AlexNet/VGG and the 64-pixel ``alexnet64``."""

from preimage.models import alexnet as _alexnet  # noqa: F401  (registers)
from preimage.models import alexnet64 as _alexnet64  # noqa: F401
from preimage.models import vgg as _vgg  # noqa: F401
from preimage.models.alexnet import AlexNet
from preimage.models.alexnet64 import AlexNet64, fold_batchnorm
from preimage.models.registry import (
    ModelConfig,
    class_names,
    create_model,
    default_weights_path,
    get_config,
    list_models,
    load_state_dict_file,
    register_model,
)
from preimage.models.vgg import VGG

__all__ = [
    "VGG",
    "AlexNet",
    "AlexNet64",
    "ModelConfig",
    "class_names",
    "create_model",
    "default_weights_path",
    "fold_batchnorm",
    "get_config",
    "list_models",
    "load_state_dict_file",
    "register_model",
]
