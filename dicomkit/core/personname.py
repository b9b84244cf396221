"""Person Name (PS3.5 6.2.1): up to three component groups of five components each."""

from __future__ import annotations

from typing import Any

from .errors import InvalidValueError

_COMPONENTS = ("family_name", "given_name", "middle_name", "name_prefix", "name_suffix")


class PersonName(str):
    """A PN value: the decoded text (``'Yamada^Tarou=山田^太郎=やまだ^たろう'``) with its structure.

    ``alphabetic``, ``ideographic`` and ``phonetic`` are the three component groups; ``family_name``,
    ``given_name``, ``middle_name``, ``name_prefix`` and ``name_suffix`` read from the alphabetic group
    (or the first non-empty group if that one is empty).
    """

    def __new__(cls, value: Any = "") -> PersonName:
        if isinstance(value, PersonName):
            return value
        if isinstance(value, bytes):
            raise InvalidValueError("PersonName needs decoded text; decode bytes with the character set first")
        if not isinstance(value, str):
            raise InvalidValueError(f"cannot make a PersonName from {value!r}")
        return str.__new__(cls, value.rstrip(" "))

    @classmethod
    def from_components(
        cls,
        family_name: str = "",
        given_name: str = "",
        middle_name: str = "",
        name_prefix: str = "",
        name_suffix: str = "",
        *,
        ideographic: str | PersonName = "",
        phonetic: str | PersonName = "",
    ) -> PersonName:
        """Build a name from components, dropping trailing empty components and groups (PS3.5 6.2.1)."""
        for part in (family_name, given_name, middle_name, name_prefix, name_suffix):
            if any(d in part for d in "^=\\"):
                raise InvalidValueError(f"name component {part!r} contains a delimiter")
        alphabetic = "^".join((family_name, given_name, middle_name, name_prefix, name_suffix)).rstrip("^")
        groups = [alphabetic, str(ideographic), str(phonetic)]
        while len(groups) > 1 and not groups[-1]:
            groups.pop()
        return cls("=".join(groups))

    @property
    def groups(self) -> tuple[str, str, str]:
        parts = str(self).split("=")
        parts += [""] * (3 - len(parts))
        return parts[0], parts[1], parts[2]

    @property
    def alphabetic(self) -> str:
        return self.groups[0]

    @property
    def ideographic(self) -> str:
        return self.groups[1]

    @property
    def phonetic(self) -> str:
        return self.groups[2]

    def components(self, group: int | None = None) -> tuple[str, str, str, str, str]:
        """The five components of a group (0 alphabetic, 1 ideographic, 2 phonetic)."""
        if group is None:
            groups = self.groups
            text = next((g for g in groups if g), "")
        else:
            text = self.groups[group]
        parts = text.split("^")
        parts += [""] * (5 - len(parts))
        return parts[0], parts[1], parts[2], parts[3], parts[4]

    @property
    def family_name(self) -> str:
        return self.components()[0]

    @property
    def given_name(self) -> str:
        return self.components()[1]

    @property
    def middle_name(self) -> str:
        return self.components()[2]

    @property
    def name_prefix(self) -> str:
        return self.components()[3]

    @property
    def name_suffix(self) -> str:
        return self.components()[4]

    def formatted(self, fmt: str = "{given_name} {family_name}") -> str:
        """Format with component names, e.g. ``"{family_name}, {given_name}"``."""
        values = dict(zip(_COMPONENTS, self.components(), strict=True))
        return fmt.format(**values).strip()

    def __repr__(self) -> str:
        return f"PersonName({str(self)!r})"
