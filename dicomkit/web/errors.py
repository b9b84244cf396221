"""HTTP errors of the DICOMweb service with a body that says why (PS3.18 8.5: 400, 404, 406, 409, 413, 415, 503).

Endpoints raise :class:`WebError`; :func:`error_response` turns it into a JSON body
``{"status": 400, "error": "Bad Request", "message": "...", "parameter": "limit"}``.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import JSONResponse


class WebError(Exception):
    """An answer other than success: the HTTP status, the reason, and for 400 the parameter at fault."""

    def __init__(self, status: int, message: str, *, parameter: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}


def bad_request(message: str, parameter: str | None = None) -> WebError:
    return WebError(400, message, parameter=parameter)


def not_found(message: str) -> WebError:
    return WebError(404, message)


def error_response(exc: WebError) -> JSONResponse:
    body: dict[str, object] = {"status": exc.status, "error": HTTPStatus(exc.status).phrase, "message": exc.message}
    if exc.parameter:
        body["parameter"] = exc.parameter
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


__all__ = ["WebError", "bad_request", "error_response", "not_found"]
