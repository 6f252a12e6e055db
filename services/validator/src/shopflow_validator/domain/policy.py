"""When a batch fails validation, and how the failure is explained."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from shopflow_validator.domain.model import FileValidationResult


def exceeds_threshold(result: FileValidationResult, threshold: Decimal) -> bool:
    """Whether too many of the file's rows were rejected; compared exactly, not in floats."""
    return result.rejected_share > Fraction(threshold)


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
