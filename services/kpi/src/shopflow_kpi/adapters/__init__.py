"""Adapters of the kpi ports: S3, DynamoDB and the DuckDB engine."""
