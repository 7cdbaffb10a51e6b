from __future__ import annotations

import pytest
import torch

from preimage.errors import PreimageError
from preimage.inverters.decoders import Decoder, DecoderArch, check_encoder, transform_codes
from preimage.representations.cnn import create_cnn_representation
from preimage.training.code_store import DenseCodePairs
from preimage.training.decoder import plateaued


def test_dense_pairs_hold_each_image_and_its_mirror() -> None:
    tap = create_cnn_representation("alexnet64:fc8", weights=None)
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    store = DenseCodePairs.compute(tap, images, batch=2)
    x = images.float() / 255.0
    with torch.no_grad():
        plain, mirrored = tap(x), tap(x.flip(-1))
    got = store.select(torch.tensor([2, 0]), torch.tensor([True, False]))
    assert torch.allclose(got[0], mirrored[2], atol=2e-2, rtol=1e-2)  # fp16 storage
    assert torch.allclose(got[1], plain[0], atol=2e-2, rtol=1e-2)


def test_plateau_by_hand() -> None:
    h = [{"val_normalized_error": e} for e in (0.6, 0.5, 0.51, 0.52)]
    assert plateaued(h, 2) and not plateaued(h, 3) and not plateaued(h, 0)
    assert not plateaued([*h[:3], {"val_normalized_error": 0.49}], 2)


def test_a_decoder_refuses_other_network_weights() -> None:
    tap = create_cnn_representation("alexnet64:fc8", weights="default")
    assert tap.weights_sha256 is not None and len(tap.weights_sha256) == 64
    dec = Decoder(DecoderArch("alexnet64:fc8", (200,), 64, width=8, hidden=16))
    dec.encoder_sha256 = tap.weights_sha256
    check_encoder(dec, tap, "d.safetensors")  # the weights it was trained on
    dec.encoder_sha256 = "0" * 64
    with pytest.raises(PreimageError, match="trained on alexnet64:fc8 weights with SHA-256 000000000000"):
        check_encoder(dec, tap, "d.safetensors")


def test_log_transform_of_probabilities() -> None:
    p = torch.tensor([[0.5, 0.5, 0.0]])
    assert transform_codes(p, "log").tolist()[0] == pytest.approx([-0.6931472, -0.6931472, -18.420681])
    assert transform_codes(p, "identity") is p
    # centred: the logits of the probabilities, up to the constant softmax forgets
    logits = torch.tensor([[2.0, -1.0, 0.5, 0.0]])
    centred = transform_codes(torch.softmax(logits, 1), "centred-log")
    torch.testing.assert_close(centred, logits - logits.mean(1, keepdim=True))
