from __future__ import annotations

import numpy as np
import pytest
import torch

from preimage.inverters.xia import (
    XIA_INVERSION,
    XIA_PIXEL_MEAN,
    XIA_STYLE,
    XiaConfig,
    XiaInverter,
    finish,
    mxnet_sgd_step,
    relative_change,
    xia_lr,
)


def test_the_official_settings() -> None:
    c = XIA_INVERSION
    assert (c.lr, c.momentum, c.lr_factor, c.lr_step, c.clip, c.max_steps, c.stop_eps) == (
        0.1, 0.9, 0.9, 10, 10.0, 1000, 0.005,
    )  # fmt: skip
    assert (c.weight_decay, XIA_STYLE.weight_decay, c.init_range, c.denoise) == (5e-4, 5e-3, 0.1, 0.2)


def test_one_update_step_by_hand() -> None:
    x = torch.tensor([1.0, -2.0, 0.5])
    mom = torch.tensor([0.1, 0.0, -0.2])
    grad = torch.tensor([20.0, -3.0, 0.0])  # 20 is clipped to 10
    new_x, new_mom = mxnet_sgd_step(x, mom, grad, lr=0.1, momentum=0.9, weight_decay=5e-4, clip=10.0)
    # mom = 0.9 mom - 0.1 (clip(g) + 5e-4 x), x += mom
    want_mom = torch.tensor([0.09 - 1.00005, 0.3001, -0.18 - 0.000025])
    assert torch.allclose(new_mom, want_mom, atol=1e-7)
    assert torch.allclose(new_x, torch.tensor([0.08995, -1.6999, 0.319975]), atol=1e-6)


def test_learning_rate_schedule_of_mxnet_factor_scheduler() -> None:
    # FactorScheduler(step=10, factor=0.9): updates 1-10 at 0.1, 11-20 at 0.09, 21-30 at 0.081
    assert [xia_lr(u) for u in (1, 10)] == [0.1, 0.1]
    assert xia_lr(11) == pytest.approx(0.09) and xia_lr(20) == pytest.approx(0.09)
    assert xia_lr(21) == pytest.approx(0.081)


def _scalar_run(g: float, cfg: XiaConfig) -> int:
    """The same recurrence on one number, written out: the update at which it stops."""
    x = m = 0.0
    for u in range(1, cfg.max_steps + 1):
        lr = cfg.lr * cfg.lr_factor ** ((u - 1) // cfg.lr_step)
        m = cfg.momentum * m - lr * (max(-cfg.clip, min(cfg.clip, g)) + cfg.weight_decay * x)
        old, x = x, x + m
        if abs(x - old) / abs(x) < cfg.stop_eps:
            return u
    return cfg.max_steps


def test_each_image_stops_at_its_own_relative_change() -> None:
    cfg = XiaConfig(init_range=0.0, denoise=0.0)  # start at the mean: every pixel follows the same recurrence
    k = torch.tensor([255.0 * 2.0, 255.0 * 0.5])  # gradient w.r.t. the 0-255 variable: 2 and 0.5 per pixel

    def objective(images: torch.Tensor) -> torch.Tensor:
        return k * images.flatten(1).sum(1)

    inv = XiaInverter(objective, cfg)
    inv(2, 4)
    assert inv.steps == [_scalar_run(2.0, cfg), _scalar_run(0.5, cfg)]
    assert all(1 < s < cfg.max_steps for s in inv.steps) and all(c < 0.005 for c in inv.last_change)


def test_zero_gradient_stops_after_one_update() -> None:
    inv = XiaInverter(lambda im: im.flatten(1).sum(1) * 0.0, XIA_INVERSION)
    out = inv(1, 8)
    assert inv.steps == [1]  # only weight decay moves x: 0.1 * 5e-4 relative change
    assert relative_change(torch.ones(1, 2), torch.ones(1, 2) * 1.001)[0] == pytest.approx(0.001 / 1.001, rel=1e-4)
    # the mean colour, give or take the U(-0.1, 0.1) start and the uint8 truncation
    assert torch.allclose(out[0].mean((1, 2)), torch.tensor(XIA_PIXEL_MEAN).floor() / 255, atol=1.5 / 255)


def test_finish_is_xias_save_image() -> None:
    from skimage.restoration import denoise_tv_chambolle

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 16, 16, generator=gen) * 90
    out = finish(x, 0.2)
    arr = x[0].numpy().transpose(1, 2, 0) + np.array(XIA_PIXEL_MEAN)
    u8 = np.clip(arr, 0, 255).astype("uint8")  # utils.PostprocessImage
    want = denoise_tv_chambolle(u8, weight=0.2, channel_axis=-1)  # skimage reads uint8 as [0, 1]
    assert np.allclose(out[0].numpy().transpose(1, 2, 0), want, atol=1e-5)


def test_style_objective_gradients_are_the_official_ones() -> None:
    # vis_style.py / utils.get_style_grad (purposeful_optimization): at the content layer the gradient is
    # content_weight * (F - F0) / HW; at a style layer (sum_p F - s) 1^T / (C HW), times style_weight
    from preimage.inverters.xia import xia_style_objective

    gen = torch.Generator().manual_seed(0)
    f = torch.rand(1, 3, 2, 4, generator=gen, requires_grad=True)
    f0 = torch.rand(1, 3, 2, 4, generator=gen)
    s = torch.rand(1, 3, generator=gen) * 8
    objective = xia_style_objective(lambda im: {"content": im, "style": im}, "content", f0, {"style": s}, 10.0, 1.0)
    objective(f).sum().backward()
    assert f.grad is not None
    hw, c = 8, 3
    want = 10.0 * (f - f0) / hw + ((f.sum((2, 3)) - s) / (c * hw))[:, :, None, None].expand_as(f)
    assert torch.allclose(f.grad, want.detach(), atol=1e-6)


def test_purposeful_optimisation_on_vgg_uses_the_official_layers() -> None:
    from preimage.inverters.feature_maps import XIA_CONTENT_LAYER, XIA_STYLE_LAYERS, restyle_purposeful
    from preimage.representations.cnn import create_cnn_representation

    assert (XIA_CONTENT_LAYER, XIA_STYLE_LAYERS) == ("relu2_2", ("relu1_1", "relu2_1", "relu3_1", "relu4_1"))
    torch.manual_seed(0)
    tap = create_cnn_representation("vgg19_64:relu2_2", weights=None)
    gen = torch.Generator().manual_seed(1)
    content, style = torch.rand(3, 32, 32, generator=gen), torch.rand(3, 32, 32, generator=gen)
    out = restyle_purposeful(tap, content, style, recipe="xia", max_steps=3)
    assert out.shape == (1, 3, 32, 32) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_long_edge_resize_keeps_the_aspect() -> None:
    from preimage.inverters.xia import resize_long_edge

    img = torch.rand(3, 40, 20)
    out = resize_long_edge(img, 512)
    assert out.shape == (3, 512, 256)
    assert resize_long_edge(torch.rand(2, 3, 30, 90), 60).shape == (2, 3, 20, 60)
    flat = resize_long_edge(torch.full((3, 10, 5), 0.25), 64)
    assert torch.allclose(flat, torch.full_like(flat, 0.25), atol=1e-6)


def test_gradient_gain_brings_each_images_median_to_the_target() -> None:
    from preimage.inverters.xia import gradient_gain

    grad = torch.stack([torch.tensor([0.0, 0.1, -0.2, 0.3, 0.4]), torch.zeros(5)]).view(2, 5, 1, 1)
    gain = gradient_gain(grad, 10.0)
    # |g| sorted 0, 0.1, 0.2, 0.3, 0.4: torch's median is the lower middle value, 0.2; an all-zero gradient keeps 1
    assert gain.flatten().tolist() == pytest.approx([50.0, 1.0])


def test_as_recipe_scales_the_loss_only_for_xia() -> None:
    from preimage.inverters.xia import as_recipe

    assert as_recipe(XIA_INVERSION, "xia").first_gradient == XIA_INVERSION.clip == 10.0
    assert as_recipe(XIA_INVERSION, "xia-literal").first_gradient is None
    assert XIA_INVERSION.first_gradient is None  # the official settings stay literal
    with pytest.raises(Exception, match="unknown Xia recipe"):
        as_recipe(XIA_INVERSION, "caffe")


def test_the_calibrated_run_scales_every_update_by_the_first_gain() -> None:
    # a linear objective: the gradient is the same at every update, so the calibrated run is the literal
    # recurrence with the gradient replaced by the target (10 per pixel after the gain), which clips at 10
    cfg = XiaConfig(init_range=0.0, denoise=0.0, first_gradient=10.0)
    k = torch.tensor([255.0 * 0.001])  # 0.001 per pixel of the 0-255 variable

    inv = XiaInverter(lambda images: k * images.flatten(1).sum(1), cfg)
    inv(1, 4)
    assert inv.gains == pytest.approx([10.0 / 0.001], rel=1e-4)
    assert inv.steps == [_scalar_run(10.0, cfg)]
