"""PS3.4 service classes, as SCU helpers and SCP handlers, independent of any archive.

``verification`` (Annex A, C-ECHO) and ``storage`` (Annex B, C-STORE) so far.
"""
