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
    assert list_models("vgg*") == ["vgg16", "vgg16_avg", "vgg19", "vgg19_64", "vgg19_avg"]


def _vgg19_table() -> dict[str, tuple[int, ...]]:
    """torchvision's VGG-19 state-dict keys and shapes, written out by hand (config "E")."""
    convs = [(64, 3), (64, 64), (128, 64), (128, 128), (256, 128), *[(256, 256)] * 3, (512, 256)]
    convs += [(512, 512)] * 7
    # features.N: every conv is followed by a ReLU, every block by a pool
    indices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    table: dict[str, tuple[int, ...]] = {}
    for i, (co, ci) in zip(indices, convs, strict=True):
        table[f"features.{i}.weight"] = (co, ci, 3, 3)
        table[f"features.{i}.bias"] = (co,)
    for i, (co, ci) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        table[f"classifier.{i}.weight"] = (co, ci)
        table[f"classifier.{i}.bias"] = (co,)
    return table


@pytest.mark.parametrize("name", ["vgg19", "vgg19_avg"])
def test_a_torchvision_vgg19_pth_loads_unchanged_into_both_poolings(name: str, tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    state = {k: 0.01 * torch.randn(shape, generator=gen) for k, shape in _vgg19_table().items()}
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    model = create_model(name, weights=path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    pools = [m for m in model.modules() if isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d))]
    want = torch.nn.AvgPool2d if name.endswith("_avg") else torch.nn.MaxPool2d
    assert len(pools) == 5 and all(isinstance(p, want) for p in pools)
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_average_pooling_changes_the_features_not_the_weights() -> None:
    from preimage.models.vgg import vgg19

    torch.manual_seed(0)
    mx, av = vgg19("max"), vgg19("avg")
    av.load_state_dict(mx.state_dict())
    x = torch.rand(1, 3, 32, 32)
    relu1_2 = mx.features[:4](x)
    # pool1 by hand: the mean of each 2x2 block vs its maximum
    assert torch.allclose(av.features[:5](x), relu1_2.unfold(2, 2, 2).unfold(3, 2, 2).mean((-1, -2)), atol=1e-6)
    assert torch.allclose(mx.features[:5](x), relu1_2.unfold(2, 2, 2).unfold(3, 2, 2).amax((-1, -2)))


def test_vgg19_64_has_the_vgg19_structure_at_reduced_width() -> None:
    model = create_model("vgg19_64")
    aliases = get_config("vgg19_64").aliases
    assert aliases == get_config("vgg19").aliases  # same indices: relu1_1 .. relu5_4, pool1 .. pool5
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32] * 2 + [64] * 2 + [128] * 4 + [256] * 8
    modules = dict(model.named_modules())
    assert all(isinstance(modules[aliases[f"pool{i}"]], torch.nn.AvgPool2d) for i in range(1, 6))
    n = sum(p.numel() for p in model.parameters())
    assert 5.5e6 < n < 6.3e6 and 2 * n <= 12 * 10**6  # fp16 fits in 12 MB


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
    from preimage.models.vgg import vgg19_64_net

    for train_form, plain in [(AlexNet64(batchnorm=True), AlexNet64()), (vgg19_64_net(True), vgg19_64_net())]:
        model = train_form.train()
        for _ in range(3):
            model(torch.rand(16, 3, 64, 64))  # populate running statistics
        model.eval()
        x = torch.rand(4, 3, 64, 64)
        before = model(x)
        fold_batchnorm(model)
        plain.load_state_dict(model.state_dict())  # the folded model has the plain key layout
        assert torch.allclose(plain.eval()(x), before, atol=1e-4)


def test_alexnet64_class_names() -> None:
    from preimage.models import class_names

    names = class_names("alexnet64")
    assert len(names) == 200 and names[0] == "goldfish"
    assert class_names("vgg16")[5] == "class 5"  # no names shipped: numbered


def test_weights_with_nan_or_damage_are_refused_before_any_features(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from preimage.cli.main import main

    state = {k: v.clone() for k, v in AlexNet64().state_dict().items()}
    first = next(k for k, v in state.items() if v.is_floating_point() and v.dim() == 4)
    state[first][0, 0, 0, 0] = float("nan")
    bad = tmp_path / "nan.safetensors"
    save_file(state, str(bad))
    with pytest.raises(PreimageError, match=f"{first} holds NaN"):
        create_model("alexnet64", weights=bad)
    out = tmp_path / "f.safetensors"
    args = ["features", "samples:chelsea", "--rep", "alexnet64:conv3", "--weights", str(bad), "-o", str(out)]
    assert main(args) == 2 and "NaN" in capsys.readouterr().err and not out.exists()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(bad.read_bytes()[:5000])
    with pytest.raises(PreimageError, match="damaged"):
        create_model("alexnet64", weights=cut)
