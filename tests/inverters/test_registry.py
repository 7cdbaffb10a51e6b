"""The inverter registry: every method built by name from the built representation, one contract."""

from __future__ import annotations

import pytest
import torch

from preimage.data import read_images
from preimage.errors import PreimageError
from preimage.inverters import Inverter, create_inverter, inverter_options, list_inverters
from preimage.inverters.decoders import Decoder
from preimage.representations import create_representation

# each registered inverter, on a representation it inverts, with options that keep it fast
CASES = {
    "decoder": ("hog", {}),
    "autoencoder": ("alexnet64:conv2", {}),
    "optimize": ("hog", {"steps": 2}),
    "hoggles": ("hog", {}),
    "linear": ("hog", {}),
    "textures": ("alexnet64:conv1", {"steps": 2, "channel": 3}),
}


def test_every_registered_inverter_has_a_case() -> None:
    assert sorted(CASES) == list_inverters()


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_inverter_round_trips_a_tiny_batch_with_the_right_shape(name: str) -> None:
    rep_name, options = CASES[name]
    rep = create_representation(rep_name)
    inverter = create_inverter(name, rep, **options)
    assert isinstance(inverter, Inverter) and inverter.rep is rep
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    codes = inverter.encode(images)
    assert tuple(codes.shape[1:]) == inverter.code_shape
    out = inverter(codes)
    assert out.shape == (2, 3, 64, 64) and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert create_inverter(name, rep, output_size=32, **options)(codes).shape == (2, 3, 32, 32)


def test_an_unknown_name_suggests_the_nearest() -> None:
    with pytest.raises(PreimageError, match="did you mean 'decoder'") as err:
        create_inverter("decodr", create_representation("hog"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "option", "words"),
    [
        ("optimize", "flip_average", "`flip_average` averages decoder outputs"),
        ("hoggles", "variant", "`variant` is for `method=decoder`"),
        ("decoder", "steps", "it is an option of optimize, textures"),
        ("decoder", "colour", "the decoder inverter takes no option 'colour'"),
    ],
)
def test_an_option_the_method_does_not_take_is_refused_in_one_line(name: str, option: str, words: str) -> None:
    with pytest.raises(PreimageError) as err:
        create_inverter(name, create_representation("hog"), **{option: True})
    message = str(err.value)
    assert words in message and name in message and option in message and "\n" not in message
    assert option not in inverter_options(name)


def test_wrong_codes_are_refused_at_the_boundary() -> None:
    hog = create_representation("hog")
    inverter = create_inverter("optimize", hog, steps=1)
    with pytest.raises(PreimageError, match=r"expects codes of shape \(B, 31, 8, 8\)"):
        inverter(torch.rand(2, 31, 4, 4))
    with pytest.raises(PreimageError, match="NaN"):
        inverter(torch.full((1, 31, 8, 8), float("nan")))


def test_the_registry_decoder_is_the_pretrained_decoder_bit_for_bit() -> None:
    items, _ = read_images(["samples:all"], size=64)
    images = torch.stack([it.image for it in items])
    for rep_name in ("hog", "lbp@4", "alexnet64:fc7"):
        rep = create_representation(rep_name)
        with torch.no_grad():
            codes = rep(images)
            expected = Decoder.from_pretrained(rep_name)(codes)
            got = create_inverter("decoder", rep)(codes)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    hog = create_representation("hog")
    with torch.no_grad():
        codes = hog(images)
        fast = Decoder.from_pretrained("hog", "fast")
        fast.flip_average = True
        torch.testing.assert_close(
            create_inverter("decoder", hog, variant="fast", flip_average=True)(codes), fast(codes), rtol=0, atol=0
        )


def test_flip_averaging_is_refused_where_the_inverter_is_built() -> None:
    with pytest.raises(PreimageError, match="mirror its code"):
        create_inverter("decoder", create_representation("sift"), flip_average=True)


def test_hoggles_refuses_other_representations() -> None:
    with pytest.raises(PreimageError, match="HOG only, not 'lbp'"):
        create_inverter("hoggles", create_representation("lbp"))
