"""The one exception base of ``billing``; each error carries its HTTP status and error code.

The wire for billing is the REST API (``{"error": code, "detail": ...}``) and the CLI's exit
status; the gateway's error middleware and ``onecard export`` only look these attributes up.

    BillingError                      500 billing_error
    ├── PeriodError                   422 invalid_period
    ├── CdrError                      422 invalid_cdr
    ├── TariffError                   422 invalid_tariff
    │   └── NoTariff                  409 no_tariff
    ├── RatingError                   422 rating_failed
    ├── LayoutError                   422 invalid_layout
    ├── BerError                      422 invalid_ber
    ├── ExportError                   409 export_failed
    │   └── ChecksumMismatch          409 checksum_mismatch
    └── NotFound                      404 not_found
"""

from __future__ import annotations


class BillingError(Exception):
    """Base of every error raised by ``billing``."""

    http_status: int = 500
    code: str = "billing_error"


class PeriodError(BillingError):
    """A billing period that is not a calendar month ``YYYY-MM``."""

    http_status = 422
    code = "invalid_period"


class CdrError(BillingError):
    """A usage record with missing or inconsistent fields."""

    http_status = 422
    code = "invalid_cdr"


class TariffError(BillingError):
    """A fee plan or tariff that cannot be used (bad price, fee outside the allowed band)."""

    http_status = 422
    code = "invalid_tariff"


class NoTariff(TariffError):
    """No tariff of the plan is in force for the period being rated."""

    http_status = 409
    code = "no_tariff"


class RatingError(BillingError):
    """A record that the tariff cannot price (unknown enterprise, unknown SMS kind...)."""

    http_status = 422
    code = "rating_failed"


class LayoutError(BillingError):
    """An export layout template that is missing, malformed or produces an invalid record."""

    http_status = 422
    code = "invalid_layout"


class BerError(BillingError):
    """Bytes that are not a well-formed BER encoding or TS 32.297 CDR file."""

    http_status = 422
    code = "invalid_ber"


class ExportError(BillingError):
    """An export job that cannot run in its present state."""

    http_status = 409
    code = "export_failed"


class ChecksumMismatch(ExportError):
    """A file already on disk differs from what the export job must produce."""

    code = "checksum_mismatch"


class NotFound(BillingError):
    """A carrier, plan, export job or file that does not exist."""

    http_status = 404
    code = "not_found"
