"""Specific Character Set examples from PS3.5 Annexes H (Japanese), I (Korean), J and K (Chinese)."""

import pytest

from dicomkit.core.charset import character_set, normalize_term
from dicomkit.core.errors import InvalidValueError

ESC = b"\x1b"

# PS3.5 Example H.3-1: "\ISO 2022 IR 87"
H31_TERMS = ("", "ISO 2022 IR 87")
H31_TEXT = "Yamada^Tarou=山田^太郎=やまだ^たろう"
H31_BYTES = (b"Yamada^Tarou=" + ESC + b"$B;3ED" + ESC + b"(B^" + ESC + b"$BB@O:" + ESC + b"(B="
             + ESC + b"$B$d$^$@" + ESC + b"(B^" + ESC + b"$B$?$m$&" + ESC + b"(B")

# PS3.5 Example H.3-2: "ISO 2022 IR 13\ISO 2022 IR 87"
H32_TERMS = ("ISO 2022 IR 13", "ISO 2022 IR 87")
H32_TEXT = "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
H32_BYTES = (bytes([0xD4, 0xCF, 0xC0, 0xDE]) + b"^" + bytes([0xC0, 0xDB, 0xB3]) + b"="
             + ESC + b"$B;3ED" + ESC + b"(J^" + ESC + b"$BB@O:" + ESC + b"(J="
             + ESC + b"$B$d$^$@" + ESC + b"(J^" + ESC + b"$B$?$m$&" + ESC + b"(J")

# PS3.5 Example I.2-1: "\ISO 2022 IR 149"
I2_TERMS = ("", "ISO 2022 IR 149")
I2_TEXT = "Hong^Gildong=洪^吉洞=홍^길동"
I2_BYTES = (b"Hong^Gildong=" + ESC + b"$)C" + bytes([0xFB, 0xF3]) + b"^" + ESC + b"$)C"
            + bytes([0xD1, 0xCE, 0xD4, 0xD7]) + b"=" + ESC + b"$)C" + bytes([0xC8, 0xAB]) + b"^"
            + ESC + b"$)C" + bytes([0xB1, 0xE6, 0xB5, 0xBF]))

# PS3.5 Example K.2-1: "\ISO 2022 IR 58"
K2_TERMS = ("", "ISO 2022 IR 58")
K2_TEXT = "Zhang^XiaoDong=张^小东="
K2_BYTES = bytes([0x5A, 0x68, 0x61, 0x6E, 0x67, 0x5E, 0x58, 0x69, 0x61, 0x6F, 0x44, 0x6F, 0x6E, 0x67, 0x3D,
                  0x1B, 0x24, 0x29, 0x41, 0xD5, 0xC5, 0x5E, 0x1B, 0x24, 0x29, 0x41, 0xD0, 0xA1, 0xB6, 0xAB,
                  0x3D])

# PS3.5 Example K.3-1: LT with GB2312 in G1, re-designated on every line
K3_TEXT = "1.第一行文字。\r\n2.第二行文字。\r\n3.第三行文字。\r\n"
K3_BYTES = bytes([0x31, 0x2E, 0x1B, 0x24, 0x29, 0x41, 0xB5, 0xDA, 0xD2, 0xBB, 0xD0, 0xD0, 0xCE, 0xC4, 0xD7,
                  0xD6, 0xA1, 0xA3, 0x0D, 0x0A, 0x32, 0x2E, 0x1B, 0x24, 0x29, 0x41, 0xB5, 0xDA, 0xB6, 0xFE,
                  0xD0, 0xD0, 0xCE, 0xC4, 0xD7, 0xD6, 0xA1, 0xA3, 0x0D, 0x0A, 0x33, 0x2E, 0x1B, 0x24, 0x29,
                  0x41, 0xB5, 0xDA, 0xC8, 0xFD, 0xD0, 0xD0, 0xCE, 0xC4, 0xD7, 0xD6, 0xA1, 0xA3, 0x0D, 0x0A])

# PS3.5 Example J.3-1: GB18030
J3_TEXT = "Wang^XiaoDong=王^小东="
J3_BYTES = bytes([0x57, 0x61, 0x6E, 0x67, 0x5E, 0x58, 0x69, 0x61, 0x6F, 0x44, 0x6F, 0x6E, 0x67, 0x3D, 0xCD,
                  0xF5, 0x5E, 0xD0, 0xA1, 0xB6, 0xAB, 0x3D])

# PS3.5 Example J.2-1: UTF-8 LT
J2_TEXT = "The first line includes 中文.\r\nThe second line includes 中文, too.\r\nThe third line.\r\n"

EXAMPLES = [
    pytest.param(H31_TERMS, "PN", H31_TEXT, H31_BYTES, id="H.3-1"),
    pytest.param(H32_TERMS, "PN", H32_TEXT, H32_BYTES, id="H.3-2"),
    pytest.param(I2_TERMS, "PN", I2_TEXT, I2_BYTES, id="I.2-1"),
    pytest.param(K2_TERMS, "PN", K2_TEXT, K2_BYTES, id="K.2-1"),
    pytest.param(K2_TERMS, "LT", K3_TEXT, K3_BYTES, id="K.3-1"),
    pytest.param(("GB18030",), "PN", J3_TEXT, J3_BYTES, id="J.3-1"),
    pytest.param(("GBK",), "PN", J3_TEXT, J3_BYTES, id="J.3-1-GBK"),
    pytest.param(("ISO_IR 192",), "LT", J2_TEXT, J2_TEXT.encode("utf-8"), id="J.2-1"),
]


@pytest.mark.parametrize(("terms", "vr", "text", "encoded"), EXAMPLES)
def test_decode_standard_examples(terms, vr, text, encoded):
    assert character_set(terms).decode(encoded, vr) == text


@pytest.mark.parametrize(("terms", "vr", "text", "encoded"), EXAMPLES)
def test_encode_standard_examples(terms, vr, text, encoded):
    assert character_set(terms).encode(text, vr) == encoded


@pytest.mark.parametrize(("term", "text"), [
    ("ISO_IR 100", "Müller^Jürgen"),
    ("ISO_IR 101", "Wałęsa^Lech"),
    ("ISO_IR 109", "Ħal^Ġorġ"),
    ("ISO_IR 110", "Ąžuolas"),
    ("ISO_IR 144", "Люкceмбypг"),
    ("ISO_IR 127", "قباني^لنزار"),
    ("ISO_IR 126", "Διονυσιος"),
    ("ISO_IR 138", "שרון^דבורה"),
    ("ISO_IR 148", "Çavuşoğlu"),
    ("ISO_IR 203", "Œuvre€"),
    ("ISO_IR 166", "ประเทศไทย"),
    ("ISO_IR 13", "ﾔﾏﾀﾞ^ﾀﾛｳ"),
    ("ISO_IR 192", "Ψυχή^Ünïcødé^中文"),
])
def test_single_byte_and_utf8_round_trip(term, text):
    cs = character_set((term,))
    encoded = cs.encode(text, "PN")
    assert cs.decode(encoded, "PN") == text


def test_iso2022_single_byte_extensions_round_trip():
    cs = character_set(("ISO 2022 IR 100", "ISO 2022 IR 144"))
    text = "Müller^Люк=Ärzte"
    encoded = cs.encode(text, "PN")
    assert b"\x1b-L" in encoded  # Cyrillic designated into G1 where needed
    assert cs.decode(encoded, "PN") == text


def test_japanese_jis_x_0212():
    cs = character_set(("", "ISO 2022 IR 87", "ISO 2022 IR 159"))
    text = "Yamada=丂"  # U+4E02 is in JIS X 0212, not in JIS X 0208
    encoded = cs.encode(text, "PN")
    assert b"\x1b$(D" in encoded
    assert cs.decode(encoded, "PN") == text


def test_multi_value_resets_to_initial_set():
    cs = character_set(("", "ISO 2022 IR 149"))
    encoded = cs.encode("洪\\홍", "LO")
    assert encoded.count(b"\x1b$)C") == 2
    assert cs.decode(encoded, "LO") == "洪\\홍"


def test_unencodable_character_is_an_error():
    with pytest.raises(InvalidValueError, match="SpecificCharacterSet"):
        character_set(()).encode("Müller", "PN")
    with pytest.raises(InvalidValueError):
        character_set(("ISO_IR 100",)).encode("中", "LO")


def test_default_repertoire_tolerates_real_world_bytes():
    cs = character_set(())
    assert cs.decode("Müller".encode(), "PN") == "Müller"
    assert cs.decode("Müller".encode("latin-1"), "PN") == "Müller"


def test_term_spellings():
    assert normalize_term("ISO_IR 100") == "ISO_IR 100"
    assert normalize_term("ISO-IR 100") == "ISO_IR 100"
    assert normalize_term("ISO_IR100") == "ISO_IR 100"
    assert normalize_term("utf-8") == "ISO_IR 192"
    assert normalize_term("ISO 2022 IR 87") == "ISO 2022 IR 87"
    assert character_set(("ISO-IR 100",)).decode(b"\xe9", "LO") == "é"
    assert character_set(("nonsense",)).unknown == ["nonsense"]
