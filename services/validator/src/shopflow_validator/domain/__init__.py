"""Validation of staged CSV files: pure logic over local files (DuckDB, no AWS)."""

from shopflow_validator.domain.batch import BatchFile, validate_batch
from shopflow_validator.domain.model import FileError, FileValidationResult, ValidationConfig
from shopflow_validator.domain.policy import describe_failure, exceeds_threshold
from shopflow_validator.domain.validate import REJECTS_HEADER, stem_of, validate_file

__all__ = [
    "REJECTS_HEADER",
    "BatchFile",
    "FileError",
    "FileValidationResult",
    "ValidationConfig",
    "describe_failure",
    "exceeds_threshold",
    "stem_of",
    "validate_batch",
    "validate_file",
]
