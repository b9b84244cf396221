"""DICOMweb (PS3.18) and the web viewer on ``dicomkit serve``'s HTTP port.

``dicomkit serve`` loads :func:`routes` through the ``dicomkit.http`` entry point (the server layer knows
nothing of this package): QIDO-RS, WADO-RS, STOW-RS and the capabilities under ``/dicom-web``, WADO-URI at
``/wado``, the viewer at ``/``. Modules: :mod:`.qido`, :mod:`.wado_rs`, :mod:`.rendered` (rendered and
thumbnail resources, their cache), :mod:`.stow`, :mod:`.wado_uri`, :mod:`.multipart`, :mod:`.media`
(media types and Accept negotiation), :mod:`.capabilities`, :mod:`.archive` (what the endpoints read,
and the one place for access checks), :mod:`.app` (the route table).
"""

from .app import PREFIX, ROUTES, Web, describe, dicomweb_app, routes

__all__ = ["PREFIX", "ROUTES", "Web", "describe", "dicomweb_app", "routes"]
