"""The archive as the data sources of the services (:mod:`dicomkit.services.sources`).

- :class:`IndexQuerySource`: C-FIND and QIDO-RS from the index (one SQL query per level, see :mod:`.sql`)
- :class:`IndexRetrieveSource`: C-MOVE / C-GET, the instances from the blob store
- :class:`IndexCommitmentSource`: Storage Commitment (indexed, blob present, checksum as recorded)
- :class:`IndexWorklistSource`: Modality Worklist items kept in the index
- :class:`IndexMppsSource`: Modality Performed Procedure Steps kept in the index, linked to stored instances
"""

from .mpps import IndexMppsSource
from .query import IndexCommitmentSource, IndexQuery, IndexQuerySource, IndexRetrieveSource
from .worklist import IndexWorklistSource, WorklistFolder

__all__ = ["IndexCommitmentSource", "IndexMppsSource", "IndexQuery", "IndexQuerySource", "IndexRetrieveSource",
           "IndexWorklistSource", "WorklistFolder"]
