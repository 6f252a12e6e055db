"""boto3-backed implementations of the loader's ports."""
