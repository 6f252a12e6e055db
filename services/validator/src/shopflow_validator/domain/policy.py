"""What happens to a file with too many rejects, and how that is explained.

Under the ``quarantine`` policy (the default) a file is quarantined on its own when it could
not be read as a file of its kind (a file-level error, whatever the threshold) or when the
share of its rows rejected is over the threshold; the rest of its batch carries on. Under
``fail_batch`` a file over the threshold (a file-level error rejects every row) fails the
whole batch, as before quarantine existed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from shopflow_contracts.messages import ValidationPolicy
from shopflow_contracts.report import QuarantineReason, RejectPolicy

from shopflow_validator.domain.model import FileValidationResult

SHARE_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class RejectRules:
    """The policy in force for a command: the settings, or a command's override of them."""

    policy: RejectPolicy = "quarantine"
    threshold: Decimal = Decimal("0.5")

    def overridden(self, override: ValidationPolicy | None) -> RejectRules:
        if override is None:
            return self
        return replace(
            self,
            policy=override.reject_policy or self.policy,
            threshold=self.threshold
            if override.reject_threshold is None
            else override.reject_threshold,
        )


def exceeds_threshold(result: FileValidationResult, threshold: Decimal) -> bool:
    """Whether too many of the file's rows were rejected; compared exactly, not in floats."""
    return result.rejected_share > Fraction(threshold)


def share_of(result: FileValidationResult) -> Decimal:
    """The rejected share for people: 6 places, rounded half up (1 on a file error)."""
    share = result.rejected_share
    return (Decimal(share.numerator) / Decimal(share.denominator)).quantize(
        SHARE_PLACES, rounding=ROUND_HALF_UP
    )


def describe_failure(result: FileValidationResult, threshold: Decimal) -> str:
    """One sentence naming the file, the counts and the top reasons."""
    share = float(result.rejected_share)
    head = f"{result.kind.value} file {result.source_key}: "
    if result.file_error is not None:
        return (
            f"{head}rejected as a whole ({result.file_error.rule}: {result.file_error.message}); "
            f"{result.rejected} of {result.rows_in} rows rejected"
        )
    reasons = ", ".join(f"{rule} x{count}" for rule, count in result.top_reasons(3))
    return (
        f"{head}{result.rejected} of {result.rows_in} rows rejected "
        f"({share:.2%} > threshold {float(threshold):.2%}); top reasons: {reasons}"
    )


def quarantine_reason(result: FileValidationResult, rules: RejectRules) -> QuarantineReason | None:
    """Why the file is quarantined under ``rules`` (a ``quarantine`` policy), or None."""
    if rules.policy != "quarantine":
        return None
    if result.file_error is not None:
        cause = "file_error"
    elif exceeds_threshold(result, rules.threshold):
        cause = "reject_threshold"
    else:
        return None
    return QuarantineReason(
        cause=cause,
        message=describe_failure(result, rules.threshold),
        rejected_share=share_of(result),
        threshold=rules.threshold,
    )


def fails_batch(result: FileValidationResult, rules: RejectRules) -> bool:
    """Whether the file fails its whole batch under ``rules`` (a ``fail_batch`` policy)."""
    return rules.policy == "fail_batch" and exceeds_threshold(result, rules.threshold)
