"""The ports on aiobotocore clients (given by the bootstrap, never created here)."""
