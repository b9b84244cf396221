"""Accept negotiation and media types (PS3.18 8.7), as OHIF, dicomweb-client and curl send them."""

from __future__ import annotations

import pytest

from dicomkit.web.media import (
    NotAcceptable,
    negotiate,
    parse_accept,
    parse_media_type,
)

OHIF_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def test_quoted_and_unquoted_parameters() -> None:
    for header in (OHIF_FRAMES, "multipart/related; type=application/octet-stream; transfer-syntax=*",
                   'multipart/related;type="application/octet-stream";transfer-syntax="*"'):
        (rng,) = parse_accept(header)
        assert rng.media_type == "multipart/related"
        assert rng.related_type == "application/octet-stream"
        assert rng.transfer_syntax == "*"


def test_quality_orders_and_zero_excludes() -> None:
    ranges = parse_accept("image/png;q=0.5, image/jpeg, image/gif;q=0")
    assert [r.media_type for r in ranges] == ["image/jpeg", "image/png"]
    assert negotiate("image/png;q=0.5, image/jpeg", ["image/png", "image/jpeg"]).media_type == "image/jpeg"


def test_multipart_choice_carries_the_transfer_syntax() -> None:
    choice = negotiate(OHIF_FRAMES, ["image/jp2", "application/octet-stream"], multipart=True)
    assert choice.multipart and choice.media_type == "application/octet-stream" and choice.transfer_syntax == "*"
    choice = negotiate('multipart/related; type="image/jp2"', ["image/jp2", "application/octet-stream"],
                       multipart=True)
    assert choice.media_type == "image/jp2" and choice.transfer_syntax is None


def test_default_and_wildcards() -> None:
    assert negotiate(None, ["application/dicom"], multipart=True).multipart
    assert negotiate("*/*", ["image/jpeg", "image/png"]).media_type == "image/jpeg"
    assert negotiate("image/*", ["application/dicom+json", "image/png"]).media_type == "image/png"


def test_not_acceptable_names_the_offers() -> None:
    with pytest.raises(NotAcceptable, match="application/dicom"):
        negotiate("text/html", ["application/dicom"], multipart=True)
    with pytest.raises(NotAcceptable):
        negotiate('multipart/related; type="image/jp2"', ["application/octet-stream"], multipart=True)


def test_content_type_parameters() -> None:
    media, params = parse_media_type('Multipart/Related; type="application/dicom"; boundary="a b;c"')
    assert media == "multipart/related" and params == {"type": "application/dicom", "boundary": "a b;c"}


def test_garbage_accept_is_ignored_member_by_member() -> None:
    assert [r.media_type for r in parse_accept("nonsense, ;;, image/png;q=x")] == ["image/png"]
