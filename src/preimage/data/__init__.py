"""Images in: files, folders, globs, WebDataset shards and scikit-image samples."""

from preimage.data.datasets import (
    ImageListDataset,
    NamedImage,
    ShardImageDataset,
    iter_images,
    materialize,
    read_images,
    upsampled_note,
)
from preimage.data.images import (
    center_crop,
    decode_image,
    fit_image,
    load_image,
    random_crop,
    resize,
    save_image,
)
from preimage.data.samples import COLOR_SAMPLES, SAMPLE_NAMES, load_sample
from preimage.data.shards import SkipCounter, expand_braces, iter_shard, resolve_shards

__all__ = [
    "COLOR_SAMPLES",
    "SAMPLE_NAMES",
    "ImageListDataset",
    "NamedImage",
    "ShardImageDataset",
    "SkipCounter",
    "center_crop",
    "decode_image",
    "expand_braces",
    "fit_image",
    "iter_images",
    "iter_shard",
    "load_image",
    "load_sample",
    "materialize",
    "random_crop",
    "read_images",
    "resize",
    "resolve_shards",
    "save_image",
    "upsampled_note",
]
