from __future__ import annotations

import json

import pytest
import torch

from preimage.data import materialize
from preimage.models import create_model, default_weights_path, get_config
from preimage.training.classifier import evaluate_classifier
from tests.conftest import SHARED_DATA, requires_shared_data


def test_shipped_weights_load_offline() -> None:
    path = default_weights_path("alexnet64")
    assert path is not None and path.stat().st_size < 20 * 2**20
    model = create_model("alexnet64", weights="default")
    assert not model.training


@requires_shared_data
def test_shipped_alexnet64_reaches_its_model_card_top1() -> None:
    path = default_weights_path("alexnet64")
    assert path is not None
    card = json.loads(path.with_suffix(".json").read_text())
    cfg = get_config("alexnet64")
    x, y = materialize(str(SHARED_DATA / "tiny-imagenet-200" / "val-0000.tar.gz"), 64, "center")
    # a seeded random 1,000 of the 10,000 (the shard's first 1,000 are not a uniform sample of classes)
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:1000]
    x, y = x[pick], y[pick]
    result = evaluate_classifier(create_model("alexnet64", weights="default"), x, y, cfg.mean, cfg.std)
    assert result["top1"] == pytest.approx(card["val_top1"], abs=3.0)
    assert card["val_top1"] >= 30.0
