from __future__ import annotations

import pytest
import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.models import create_model
from preimage.representations import create_representation
from preimage.representations.cnn import LayerTap, layer_tap


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return create_model("alexnet64")  # random weights: the tap's mechanics do not depend on training


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def test_taps_equal_the_full_forward(net: nn.Module) -> None:
    tap = create_representation("alexnet64:conv1,conv3,conv5,fc6,fc7,fc8,prob", model=net)
    x = torch.rand(3, 3, 64, 64)
    feats = tap.features(x)
    with torch.no_grad():
        h = _normalise(x)
        assert torch.equal(feats["conv1"], net.features[:3](h))
        assert torch.equal(feats["conv3"], net.features[:8](h))
        assert torch.equal(feats["conv5"], net.features(h))
        flat = torch.flatten(net.features(h), 1)
        assert torch.allclose(feats["fc6"], net.classifier[:3](flat))
        assert torch.allclose(feats["fc7"], net.classifier[:6](flat))
        logits = net(h)
        assert torch.allclose(feats["fc8"], logits)
        assert torch.allclose(feats["prob"], torch.softmax(logits, 1))
        assert torch.allclose(feats["prob"].sum(1), torch.ones(3))


def test_a_tap_for_other_layers_shares_the_network_and_its_normalisation(net: nn.Module) -> None:
    tap = create_representation("alexnet64:conv5", model=net)
    other = tap.with_layers(["conv1", "conv2"])
    assert other.model is tap.model and other.name == tap.name
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(other.features(x)["conv1"], net.features[:3](_normalise(x)))


def test_forward_stops_after_deepest_layer(net: nn.Module) -> None:
    calls: list[str] = []
    handles = [
        m.register_forward_hook(lambda m, i, o, n=n: calls.append(n))
        for n, m in net.named_modules()
        if n.startswith(("features.", "classifier."))
    ]
    try:
        create_representation("alexnet64:conv2", model=net)(torch.rand(1, 3, 64, 64))
    finally:
        for h in handles:
            h.remove()
    assert calls[-1] == "features.5" and "features.6" not in calls


def test_pre_relu_capture_is_not_overwritten_by_inplace_relu(net: nn.Module) -> None:
    tap = create_representation("alexnet64:features.6", model=net)  # conv3 before its in-place ReLU
    out = tap(torch.rand(2, 3, 64, 64))
    assert (out < 0).any()


def test_gradients_flow_through_a_tap(net: nn.Module) -> None:
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    create_representation("alexnet64:conv4", model=net)(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_out_shape_without_running(net: nn.Module) -> None:
    tap = create_representation("alexnet64:conv1,conv2,conv5,fc7,prob", model=net)
    assert tap.out_shapes(64) == {
        "conv1": (64, 16, 16),
        "conv2": (128, 8, 8),
        "conv5": (128, 4, 4),
        "fc7": (1024,),
        "prob": (200,),
    }


def test_unknown_layer_suggests_nearest(net: nn.Module) -> None:
    with pytest.raises(PreimageError, match="did you mean 'conv3'") as err:
        create_representation("alexnet64:cnov3", model=net)
    assert "features.8" in str(err.value) and "\n" not in str(err.value)


def test_any_module_by_dotted_name() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Conv2d(4, 2, 1)))
    tap = layer_tap(model, "1.1", mean=(0.5,) * 3, std=(0.5,) * 3)
    x = torch.rand(1, 3, 10, 10)
    assert torch.allclose(tap(x), model((x - 0.5) / 0.5))
    assert isinstance(tap, LayerTap)


def test_vgg19_relu4_1_shape() -> None:
    tap = create_representation("vgg19:relu1_1,relu4_1", weights=None)
    assert tap.out_shapes(64) == {"relu1_1": (64, 64, 64), "relu4_1": (512, 8, 8)}
