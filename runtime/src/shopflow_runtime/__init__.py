"""What every shopflow worker runs on, shared so the services stay small and alike.

- ``worker``: the callback-task loop (receive a command, handle it, answer Step Functions).
- ``aws``: the boto3 adapters of that loop (SQS queue, Step Functions callback, failure log).
- ``clients``: the one factory of AWS clients (one session, retries, timeouts, addressing).
- ``settings``: the settings base classes with the fields every service shares.
- ``logs`` and ``signals``: JSON log lines and a stop event set by SIGTERM/SIGINT.

It depends on ``contracts`` (the envelopes it parses and answers with) and on AWS libraries;
no service's code.
"""
