"""Bot API answers in Telegram's envelopes, and the failures the sandbox gives."""

from __future__ import annotations

from collections.abc import Mapping

SERVER_ERROR_DESCRIPTIONS = {500: "Internal Server Error", 502: "Bad Gateway"}


class ApiError(Exception):
    """A Bot API failure carrying Telegram's error code, description and parameters."""

    def __init__(
        self,
        error_code: int,
        description: str,
        parameters: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters or {})

    def envelope(self) -> dict[str, object]:
        """Return the failure as Telegram's JSON envelope."""
        answer: dict[str, object] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            answer["parameters"] = self.parameters
        return answer


def success(result: object) -> dict[str, object]:
    """Return a result in Telegram's success envelope."""
    return {"ok": True, "result": result}


def bad_request(reason: str) -> ApiError:
    """Return a 400 failure with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    """Return a 403 failure with Telegram's "Forbidden: " prefix."""
    return ApiError(403, f"Forbidden: {reason}")


def conflict(reason: str) -> ApiError:
    """Return a 409 failure, as for getUpdates while a webhook is set."""
    return ApiError(409, f"Conflict: {reason}")


def unauthorized() -> ApiError:
    """Return the 401 answer to an unknown or revoked token."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """Return the 404 answer to an unknown method."""
    return ApiError(404, "Not Found")


def too_many_requests(retry_after: int) -> ApiError:
    """Return a 429 failure asking the client to wait retry_after seconds."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def server_error(status: int) -> ApiError:
    """Return a 5xx failure."""
    return ApiError(status, SERVER_ERROR_DESCRIPTIONS.get(status, "Internal Server Error"))
