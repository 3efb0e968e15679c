"""Failures the emulator answers with, each carrying the status and the documented body text."""

from __future__ import annotations

from typing import Any


class ServiceNowError(Exception):
    """Maps to `{"error": {"message", "detail"}, "status": "failure"}` with `status`."""

    status = 400

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message if detail is None else f"{message}: {detail}")
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "detail": self.detail}, "status": "failure"}


class InvalidTable(ServiceNowError):
    status = 400

    def __init__(self, table: str) -> None:
        super().__init__(f"Invalid table {table}", None)


class BadRequest(ServiceNowError):
    status = 400


class RecordNotFound(ServiceNowError):
    status = 404

    def __init__(
        self, detail: str = "Record doesn't exist or ACL restricts the record retrieval"
    ) -> None:
        super().__init__("No Record found", detail)


class DataPolicyError(ServiceNowError):
    status = 403

    def __init__(self, labels: list[str]) -> None:
        super().__init__(
            "Operation Failed",
            "Data Policy Exception: \n\tThe following fields are mandatory: " + ", ".join(labels),
        )
        self.labels = labels


class AclError(ServiceNowError):
    status = 403

    def __init__(self, operation: str = "Update") -> None:
        super().__init__(
            "Operation Failed", f"ACL Exception {operation} Failed due to security constraints"
        )
