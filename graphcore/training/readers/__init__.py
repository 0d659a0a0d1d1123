"""Readers for the formats real image data comes in: MNIST-style IDX files, CIFAR-10's binary batches,
folders of images (one sub-folder per class) and scikit-learn's bundled digits.

Each returns a `LabelledImages`: x as float32 in [0, 1], [n, channels, height, width] (or [n, features]
when flattened), y as int64 class indices, and the class names. Every problem with a file is one
DatasetError line that names the file; nothing is allocated from a header before the file is seen to
hold that much data.
"""

from graphcore.training.readers.cifar import read_cifar10
from graphcore.training.readers.common import MAX_BYTES, LabelledImages
from graphcore.training.readers.digits import read_digits
from graphcore.training.readers.folders import read_image_folder
from graphcore.training.readers.idx import read_idx, read_idx_array
from graphcore.training.readers.section import READERS, read_dataset, reader_options

__all__ = [
    "MAX_BYTES",
    "READERS",
    "LabelledImages",
    "read_cifar10",
    "read_dataset",
    "read_digits",
    "read_idx",
    "read_idx_array",
    "read_image_folder",
    "reader_options",
]
