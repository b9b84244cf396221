"""What the DICOMweb endpoints read from the archive: instance rows, stored headers, frame and bulk data ranges.

Every call goes through :class:`WebArchive`, runs its blocking work (SQL, file reads, codecs) in the
archive's worker threads, and carries the :class:`~dicomkit.services.sources.Requester` of the HTTP request
(who asked): :meth:`WebArchive.authorize` is the one place where permissions will be applied (the security
issue); today every request that reached the app is allowed.

Metadata comes from the headers stored at ingest (``instance_headers``: DICOM JSON with bulk data as
``bulk/GGGGEEEE``), never from the files; frames and bulk data are read by the byte ranges stored beside
them, and only objects without ranges (deflated data sets, odd layouts) are read whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar, cast

from ..core.dataset import Dataset
from ..io.reader import read
from ..server.auth.labels import Visibility
from ..server.index import InstanceRow
from ..services.sources import Requester
from .errors import WebError, not_found

if TYPE_CHECKING:
    from ..server.app import Pacs

T = TypeVar("T")

_ROW = ("SELECT i.pk, i.sop_instance_uid, i.sop_class_uid, s.series_instance_uid, st.study_instance_uid, "
        "i.transfer_syntax, i.size, i.sha256, i.content_sha256, i.dataset_offset, i.blob_key, i.node, "
        "i.stored_at, i.source_ae FROM instances i JOIN series s ON s.pk = i.series_pk "
        "JOIN studies st ON st.pk = s.study_pk")
_ORDER = " ORDER BY s.series_number, s.pk, i.instance_number, i.pk"
BULK_PREFIXES = (b'"BulkDataURI": "bulk/', b'"BulkDataURI":"bulk/')  # as to_json and compact dumps write it


@dataclass(frozen=True)
class Target:
    """The resource a request names: a study, optionally a series and an instance."""

    study: str
    series: str | None = None
    instance: str | None = None

    @property
    def level(self) -> str:
        return "instance" if self.instance else "series" if self.series else "study"

    def describe(self) -> str:
        if self.instance:
            return f"instance {self.instance} of series {self.series} in study {self.study}"
        if self.series:
            return f"series {self.series} in study {self.study}"
        return f"study {self.study}"


class WebArchive:
    """The archive as the DICOMweb endpoints see it (see the module documentation)."""

    def __init__(self, pacs: Pacs) -> None:
        self.pacs = pacs

    @property
    def archive(self) -> Any:
        return self.pacs.archive

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.archive.executor, fn, *args)

    # -- instance rows ----------------------------------------------------------------------------------------
    def _rows(self, target: Target, requester: Requester) -> list[InstanceRow]:
        where, params = ["st.study_instance_uid = ?"], [target.study]
        if requester.labels is not None:  # a study the user may not see is not there (404, not 403: no leak)
            predicate, more = Visibility(requester.labels).sql("st.pk") if requester.labels else ("1 = 0", [])
            where.append(predicate)
            params.extend(more)
        if target.series:
            where.append("s.series_instance_uid = ?")
            params.append(target.series)
        if target.instance:
            where.append("i.sop_instance_uid = ?")
            params.append(target.instance)
        db = self.archive.index.read()
        rows = db.rows(_ROW + " WHERE " + " AND ".join(where) + _ORDER, params)
        return [InstanceRow(*r) for r in rows]

    async def instances(self, target: Target, requester: Requester) -> list[InstanceRow]:
        """The instances of the target in series and instance order, when ``requester`` may see its study;
        404 when there are none (or it may not)."""
        rows = await self.run(self._rows, target, requester)
        if not rows:
            raise not_found(f"no {target.describe()} in this archive")
        return rows

    def _headers(self, pks: Sequence[int]) -> dict[int, tuple[bytes, str | None]]:
        db = self.archive.index.read()
        out: dict[int, tuple[bytes, str | None]] = {}
        for start in range(0, len(pks), 500):
            chunk = list(pks[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for pk, header, bulk in db.rows(f"SELECT instance_pk, header, bulk FROM instance_headers "
                                            f"WHERE instance_pk IN ({marks})", chunk):
                out[int(pk)] = (bytes(header), bulk)
        return out

    async def headers(self, rows: Sequence[InstanceRow]) -> dict[int, tuple[bytes, str | None]]:
        """The stored (compressed) header and bulk map of each row, by row pk."""
        return await self.run(self._headers, [r.pk for r in rows])

    @staticmethod
    def etag(rows: Sequence[InstanceRow], variant: str = "") -> str:
        """A strong ETag of what the rows hold (their UIDs and content hashes)."""
        h = hashlib.sha256(variant.encode())
        for r in rows:
            h.update(r.sop_instance_uid.encode())
            h.update(r.content_sha256.encode())
        return f'"{h.hexdigest()[:32]}"'

    # -- blobs ---------------------------------------------------------------------------------------------
    def open_blob(self, row: InstanceRow) -> BinaryIO:
        f: BinaryIO = self.archive.store.open(row.blob_key)
        return f

    def open_whole(self, row: InstanceRow) -> BinaryIO:
        """The blob for a whole-object answer: with ``storage.verify_on_retrieve`` hashed while it is read,
        the last part held back until the SHA-256 recorded at ingest matches (:mod:`dicomkit.server.integrity`;
        a mismatch raises IntegrityError, is logged and audited, and the answer ends short)."""
        f = self.open_blob(row)
        if not self.archive.config.storage.verify_on_retrieve:
            return f
        from ..server.integrity import IntegrityError, VerifiedReader
        from ..services.sources import StoredObject

        def mismatch(error: IntegrityError) -> None:
            import logging

            logging.getLogger("dicomkit.web").error("integrity: %s", error)
            self.pacs._integrity_failure(StoredObject(row.sop_class_uid, row.sop_instance_uid, row.transfer_syntax,
                                                      study_instance_uid=row.study_instance_uid), error)

        return cast(BinaryIO, VerifiedReader(f, row.sha256, size=row.size, on_mismatch=mismatch,
                                             name=f"instance {row.sop_instance_uid}"))

    def read_range(self, row: InstanceRow, offset: int, length: int) -> bytes:
        data: bytes = self.archive.store.read_range(row.blob_key, offset, length)
        if len(data) != length:
            raise WebError(503, f"the stored object of {row.sop_instance_uid} is shorter than its index says; "
                           "run dicomkit archive verify")
        return data

    def dataset(self, row: InstanceRow, *, stop_before_pixels: bool = False) -> Dataset:
        """The stored object read (lazily, memory-mapped when large) from its blob."""
        path_of = getattr(self.archive.store, "path_of", None)
        if path_of is not None:
            return read(path_of(row.blob_key), stop_before_pixels=stop_before_pixels)
        with self.open_blob(row) as f:
            return read(f.read(), stop_before_pixels=stop_before_pixels)

    async def version(self, target: Target, requester: Requester) -> str:
        """What changes when the target's instances change (rendered-image cache keys)."""
        rows = await self.instances(target, requester)
        return self.etag(rows)


def header_json(stored: bytes, base_url: str) -> bytes:
    """The DICOM JSON of a stored header with its BulkDataURIs made absolute (``base_url`` ends with ``/``)."""
    text = zlib.decompress(stored)
    for prefix in BULK_PREFIXES:
        text = text.replace(prefix, b'"BulkDataURI":"' + base_url.encode() + b"bulk/")
    return text


class _Number(str):
    """A JSON number kept as its text while the header is re-encoded."""


def numbers_as_text(data: bytes) -> bytes:
    """The same DICOM JSON with IS and DS values as strings (PS3.18 F.2.3 note; the setting for old clients)."""
    obj = json.loads(data, parse_int=_Number, parse_float=_Number)

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(n) for n in node]
        if isinstance(node, dict):
            vr = node.get("vr")
            out = {}
            for k, v in node.items():
                if k == "Value" and vr in ("IS", "DS") and isinstance(v, list):
                    out[k] = [str(x) if isinstance(x, _Number) else x for x in v]
                else:
                    out[k] = fix(v)
            return out
        if isinstance(node, _Number):
            return json.loads(str(node))
        return node

    return json.dumps(fix(obj), separators=(",", ":"), ensure_ascii=False).encode()


__all__ = ["Target", "WebArchive", "header_json", "numbers_as_text"]
