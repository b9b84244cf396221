"""The audit trail of the DICOMweb service (PS3.15 A.5.3): queries, what leaves, what is deleted.

- QIDO-RS: one Query message per request (A.5.3.10), the request's path and query string as the query;
- WADO-RS / WADO-URI retrieves of whole objects (and zips): DICOM Instances Transferred (A.5.3.5), one per
  study; metadata, frames, rendered images, thumbnails and bulk data: DICOM Instances Accessed (A.5.3.4);
- DELETE: DICOM Study Deleted (A.5.3.6), per study touched (STOW-RS: :func:`.stow.audit_stored`).

A viewer asks for hundreds of frames of one study in a minute: the same event for the same study by the
same user from the same address is recorded once per :data:`REPEAT_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..server.index import InstanceRow
from ..services.sources import Requester

if TYPE_CHECKING:
    from .app import Web

REPEAT_SECONDS = 60.0
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"  # what a QIDO-RS query is, in the terms of A.5.3.10


class WebAudit:
    """Records the web layer's audit events through the server's auditor (none: nothing is recorded)."""

    def __init__(self, pacs: Any, *, clock: Any = time.monotonic) -> None:
        self.pacs = pacs
        self.clock = clock
        self._recent: dict[tuple[str, str, str, frozenset[str]], float] = {}
        self._lock = threading.Lock()

    @property
    def policy(self) -> Any:
        return getattr(self.pacs, "policy", None)

    def _repeated(self, event: str, requester: Requester, studies: frozenset[str]) -> bool:
        now = self.clock()
        key = (event, requester.user_identity or "", requester.address or "", studies)
        with self._lock:
            last = self._recent.get(key)
            if last is not None and now - last < REPEAT_SECONDS:
                return True
            self._recent[key] = now
            if len(self._recent) > 10000:
                self._recent = {k: t for k, t in self._recent.items() if now - t < REPEAT_SECONDS}
        return False

    def query(self, requester: Requester, query: str) -> None:
        policy = self.policy
        if policy is not None:
            policy.auditor.record("query", requester=requester, query=query.encode("utf-8", "replace"),
                                  sop_class=STUDY_ROOT_FIND, description="QIDO-RS")

    def instances(self, web: Web, event: str, requester: Requester, rows: Sequence[InstanceRow],
                  what: str) -> None:
        """``event`` (instances-transferred / instances-accessed) for the studies of ``rows``, in a worker
        thread of the archive (the patient of each study comes from the index)."""
        policy = self.policy
        if policy is None or not rows:
            return
        studies = frozenset(r.study_instance_uid for r in rows)
        if self._repeated(event, requester, studies):
            return
        uids = [r.sop_instance_uid for r in rows]

        def record() -> None:
            try:
                refs = policy.studies_of(uids)
            except Exception:  # the index went away: the study UIDs are still worth recording
                refs = sorted(studies)
            for ref in refs:
                policy.auditor.record(event, requester=requester, studies=[ref], description=what)

        web.archive.archive.executor.submit(record)

    def deleted(self, requester: Requester, studies: Sequence[Any], what: str) -> None:
        policy = self.policy
        if policy is not None:
            for ref in studies:
                policy.auditor.record("study-deleted", requester=requester, studies=[ref], description=what)


__all__ = ["REPEAT_SECONDS", "WebAudit"]
