"""Architecture contracts of the decoders: the sub-pixel (``shuffle``) head and its checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from preimage.errors import PreimageError
from preimage.inverters.decoders import Decoder, SpatialDecoder, build_decoder


def test_shuffle_head_is_a_sub_pixel_convolution() -> None:
    """With ``shuffle=s`` the head's ``3 s^2`` channels at 1/s resolution are the s x s sub-pixels of each pixel.

    Reference: Shi et al. (2016), written out by hand: output ``[c, s*y + i, s*x + j]`` is head channel
    ``c*s*s + i*s + j`` at ``(y, x)``.
    """
    torch.manual_seed(0)
    net = SpatialDecoder(31, 8, 64, width=8, stage_blocks=1, shuffle=4)
    assert len(net.expand) == 1  # 8 -> 16 by up-convolution, 16 -> 64 by the sub-pixel head
    seen: dict[str, torch.Tensor] = {}
    net.head.register_forward_hook(lambda m, i, o: seen.setdefault("head", o))
    out = net(torch.rand(2, 31, 8, 8))
    head = seen["head"]
    assert head.shape == (2, 48, 16, 16) and out.shape == (2, 3, 64, 64)
    s = 4
    by_hand = torch.empty_like(out)
    for c in range(3):
        for i in range(s):
            for j in range(s):
                by_hand[:, c, i::s, j::s] = head[:, c * s * s + i * s + j]
    torch.testing.assert_close(out, by_hand, atol=0, rtol=0)


def test_shuffle_keeps_stage_blocks_on_every_up_convolution_stage() -> None:
    # every up-convolution stage is below the output size when the head upsamples, so each gets its blocks
    assert [len(b) for b in SpatialDecoder(31, 8, 64, width=8, stage_blocks=2, shuffle=2).stage_blocks] == [2, 2]
    assert [len(b) for b in SpatialDecoder(31, 8, 64, width=8, stage_blocks=2).stage_blocks] == [2, 2, 0]
    # the whole upsampling in the head: no up-convolution stage at all
    assert len(SpatialDecoder(31, 8, 64, width=8, shuffle=8).expand) == 0


@pytest.mark.parametrize("shuffle", [0, 3, 16])
def test_bad_shuffle_is_a_one_line_error(shuffle: int) -> None:
    with pytest.raises(PreimageError, match=r"--shuffle .* power of 2 no larger than the upsampling factor 8"):
        SpatialDecoder(31, 8, 64, width=8, shuffle=shuffle)


def test_vector_codes_reject_shuffle() -> None:
    with pytest.raises(PreimageError, match="spatial codes"):
        build_decoder((200,), 64, width=8, shuffle=2)


def test_shuffle_decoder_round_trips_through_safetensors(tmp_path: Path) -> None:
    from preimage.training.common import export_safetensors

    dec = Decoder("hog", (31, 8, 8), 64, width=8, stage_blocks=1, shuffle=4).eval()
    path = export_safetensors(
        dec.state_dict(), tmp_path / "d.safetensors", fp16=False, metadata={"config": json.dumps(dec.config())}
    )
    again = Decoder.from_file(path)
    assert again.shuffle == 4 and again.config() == dec.config()
    codes = torch.rand(2, 31, 8, 8)
    torch.testing.assert_close(again(codes), dec(codes))


def test_old_weights_without_shuffle_in_their_config_load_as_up_convolutions(tmp_path: Path) -> None:
    from preimage.training.common import export_safetensors

    dec = Decoder("hog", (31, 8, 8), 64, width=8).eval()
    config = dec.config()
    del config["shuffle"]  # weights exported before the option existed
    path = export_safetensors(
        dec.state_dict(), tmp_path / "d.safetensors", fp16=False, metadata={"config": json.dumps(config)}
    )
    assert Decoder.from_file(path).shuffle == 1
