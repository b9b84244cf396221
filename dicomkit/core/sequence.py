"""Sequences of Items (PS3.5 7.5): a list of Datasets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, SupportsIndex, overload

from .errors import InvalidValueError

if TYPE_CHECKING:
    from .dataset import Dataset


def _check(item: Any) -> Dataset:
    from .dataset import Dataset

    if not isinstance(item, Dataset):
        raise InvalidValueError(f"sequence items must be Datasets, got {type(item).__name__}")
    return item


class Sequence(list["Dataset"]):
    """The value of an SQ element. ``is_undefined_length`` records (and chooses) how it is encoded."""

    is_undefined_length: bool

    def __init__(self, items: Iterable[Dataset] = (), *, undefined_length: bool = False) -> None:
        super().__init__(_check(i) for i in items)
        self.is_undefined_length = undefined_length

    def append(self, item: Dataset) -> None:
        super().append(_check(item))

    def insert(self, index: SupportsIndex, item: Dataset) -> None:
        super().insert(index, _check(item))

    def extend(self, items: Iterable[Dataset]) -> None:
        super().extend(_check(i) for i in items)

    def __iadd__(self, items: Iterable[Dataset]) -> Sequence:  # type: ignore[override,misc]
        self.extend(items)
        return self

    @overload
    def __setitem__(self, index: SupportsIndex, item: Dataset) -> None: ...

    @overload
    def __setitem__(self, index: slice, item: Iterable[Dataset]) -> None: ...

    def __setitem__(self, index: Any, item: Any) -> None:
        if isinstance(index, slice):
            super().__setitem__(index, [_check(i) for i in item])
        else:
            super().__setitem__(index, _check(item))

    def copy(self) -> Sequence:
        return Sequence((ds.copy() for ds in self), undefined_length=self.is_undefined_length)

    def __repr__(self) -> str:
        return f"<Sequence of {len(self)} item{'s' if len(self) != 1 else ''}>"
