"""Project exceptions. Every message says what went wrong and what to do about it."""

from __future__ import annotations


class B3PipelineError(Exception):
    """Base class for every expected failure of the pipeline (the CLI prints these in one line)."""


class SettingsError(B3PipelineError):
    """A required setting is missing or malformed."""


class InvalidTickerError(B3PipelineError):
    """A ticker is not a B3 symbol."""


class InvalidRequestError(B3PipelineError):
    """An event or request payload is not what the component accepts."""


class InvalidDateRangeError(B3PipelineError):
    """A date or date window given by the user cannot be used."""


class BrapiError(B3PipelineError):
    """BRAPI answered with an error or could not be reached.

    `reason` is the short cause a run lists next to a ticker it set aside (the message
    itself says what to do about the whole run); it defaults to the message.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class BrapiBadRequestError(BrapiError):
    """HTTP 400: BRAPI rejected the request (usually the range or interval)."""


class BrapiUnauthorizedError(BrapiError):
    """HTTP 401: the token is missing, wrong or expired."""


class BrapiQuotaError(BrapiError):
    """HTTP 402: the plan's request quota is used up."""


class BrapiTickerNotFoundError(BrapiError):
    """HTTP 404: BRAPI does not know the ticker."""


class BrapiUnavailableError(BrapiError):
    """Connection errors, 429 or 5xx that persisted through every retry."""


class BrapiHostNotFoundError(BrapiError):
    """BRAPI's host name does not resolve (no network, or a mistyped BRAPI_BASE_URL): not
    transient, so not retried."""


class NoQuotesError(B3PipelineError):
    """No quote in the window asked: the source has none (and the window is not a few
    closed days), or the lake has none to check. Nothing is written."""


class BrapiPayloadError(BrapiError):
    """BRAPI answered 200 with a body that cannot be trusted (nothing is written)."""


class TickersFailedError(B3PipelineError):
    """Tickers were set aside (BRAPI refused them or sent bad bars); every other one was
    written, refined and checked. The message names each failed ticker and why."""


class TooManyTickersFailedError(TickersFailedError):
    """More tickers failed than the allowed share (B3_MAX_FAILED_TICKER_SHARE): the run
    stopped early and wrote nothing, since a failure that broad is rarely the tickers'."""


class LakeError(B3PipelineError):
    """The lake cannot be read or written."""


class LakeNotFoundError(LakeError):
    """A command that only reads was given a lake folder that does not exist."""


class ManifestError(LakeError):
    """A manifest is missing, unreadable or malformed."""


class TransformError(B3PipelineError):
    """The raw data cannot be turned into refined tables."""


class TransformJobError(B3PipelineError):
    """The Glue transform job failed; the message carries the cause and what to do."""


class CatalogRegistrationError(B3PipelineError):
    """The catalog cannot take the run's partitions (database or table missing, access denied)."""


class QueryError(B3PipelineError):
    """A SQL query failed on the local catalog."""


class QualityCheckError(B3PipelineError):
    """The data-quality gate found violations."""


class WorkflowStartError(B3PipelineError):
    """The state machine could not be started (StartExecution failed)."""


class DeploymentOutputsError(B3PipelineError):
    """Terraform's outputs (the deployed stack's names) cannot be read."""


class ExecutionWatchError(B3PipelineError):
    """A started execution cannot be followed (DescribeExecution/GetExecutionHistory failed)."""


class ExecutionFailedError(B3PipelineError):
    """A state machine execution ended FAILED, TIMED_OUT or ABORTED."""
