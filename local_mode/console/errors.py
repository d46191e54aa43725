"""The console API's one error type: a status, a code and a message, answered as ``{"message", "code"}``."""

from __future__ import annotations


class ConsoleError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"message": self.message, "code": self.code}
