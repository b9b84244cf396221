"""Part 10 files and data set encodings: reading, writing, deflate, encapsulated pixel data."""

from .reader import read, read_file_meta
from .writer import encode_dataset, write

__all__ = ["encode_dataset", "read", "read_file_meta", "write"]
