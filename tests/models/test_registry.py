from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from preimage.errors import PreimageError
from preimage.models import AlexNet64, create_model, fold_batchnorm, get_config, list_models

# torchvision 0.2x state-dict keys and shapes, written out by hand from torchvision.models.alexnet/vgg16
TORCHVISION_ALEXNET = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3),
    "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3),
    "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216),
    "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096),
    "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}
_VGG16_CONVS = {
    0: (64, 3),
    2: (64, 64),
    5: (128, 64),
    7: (128, 128),
    10: (256, 128),
    12: (256, 256),
    14: (256, 256),
    17: (512, 256),
    19: (512, 512),
    21: (512, 512),
    24: (512, 512),
    26: (512, 512),
    28: (512, 512),
}
TORCHVISION_VGG16 = {
    **{f"features.{i}.weight": (co, ci, 3, 3) for i, (co, ci) in _VGG16_CONVS.items()},
    **{f"features.{i}.bias": (co,) for i, (co, _) in _VGG16_CONVS.items()},
    "classifier.0.weight": (4096, 25088),
    "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096),
    "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


def test_registry_lists_the_four_models() -> None:
    assert {"alexnet", "alexnet64", "vgg16", "vgg19"} <= set(list_models())
    assert list_models("vgg*") == ["vgg16", "vgg19"]


@pytest.mark.parametrize("name, table", [("alexnet", TORCHVISION_ALEXNET), ("vgg16", TORCHVISION_VGG16)])
def test_torchvision_keys_and_shapes(name: str, table: dict[str, tuple[int, ...]]) -> None:
    state = create_model(name).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == table


def test_torchvision_pth_loads_strictly(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=gen) for k, shape in TORCHVISION_ALEXNET.items()}
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(state, path)
    model = create_model("alexnet", weights=path)
    assert torch.equal(model.state_dict()["features.0.weight"], state["features.0.weight"])
    assert model(torch.rand(1, 3, 224, 224)).shape == (1, 1000)


def test_wrong_weights_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    save_file({"features.0.weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(PreimageError, match="do not fit alexnet"):
        create_model("alexnet", weights=path)
    with pytest.raises(PreimageError, match="ships no weights"):
        create_model("vgg19", weights="default")
    with pytest.raises(PreimageError, match="did you mean 'alexnet64'"):
        create_model("alexnet46")


def test_vgg19_aliases_match_gatys_layers() -> None:
    aliases = get_config("vgg19").aliases
    # the style layers of Gatys et al. in torchvision's VGG-19 indexing
    assert [aliases[f"relu{i}_1"] for i in range(1, 6)] == [f"features.{i}" for i in (1, 6, 11, 20, 29)]
    assert aliases["relu5_4"] == "features.35"
    model = create_model("vgg19")
    modules = dict(model.named_modules())
    assert all(isinstance(modules[aliases[f"relu{i}_1"]], torch.nn.ReLU) for i in range(1, 6))


@pytest.mark.parametrize("name", ["alexnet", "alexnet64"])
def test_alexnet_aliases_are_the_last_step_of_each_layer(name: str) -> None:
    aliases = get_config(name).aliases
    modules = dict(create_model(name).named_modules())
    kinds = {alias: type(modules[target]).__name__ for alias, target in aliases.items()}
    assert kinds == {
        "conv1": "MaxPool2d",
        "conv2": "MaxPool2d",
        "conv3": "ReLU",
        "conv4": "ReLU",
        "conv5": "MaxPool2d",
        "fc6": "ReLU",
        "fc7": "ReLU",
        "fc8": "Linear",
    }


def test_batchnorm_folding_is_exact() -> None:
    torch.manual_seed(0)
    model = AlexNet64(batchnorm=True).train()
    for _ in range(3):
        model(torch.rand(16, 3, 64, 64))  # populate running statistics
    model.eval()
    x = torch.rand(4, 3, 64, 64)
    before = model(x)
    fold_batchnorm(model)
    plain = AlexNet64()
    plain.load_state_dict(model.state_dict())  # the folded model has the plain key layout
    assert torch.allclose(plain.eval()(x), before, atol=1e-4)


def test_alexnet64_class_names() -> None:
    from preimage.models import class_names

    names = class_names("alexnet64")
    assert len(names) == 200 and names[0] == "goldfish"
    assert class_names("vgg16")[5] == "class 5"  # no names shipped: numbered
