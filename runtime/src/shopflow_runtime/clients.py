"""The one place a shopflow process creates AWS clients.

Every client of a process comes from one boto3 session with one configuration (retries,
timeouts, S3 addressing, endpoint URL), so the services cannot drift apart in how they talk
to AWS. Clients are created once per service name and shared: boto3 clients are thread-safe,
sessions are not, hence the lock.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import boto3
from botocore.config import Config

from shopflow_runtime import faults
from shopflow_runtime.settings import AwsSettings


class AwsClientFactory:
    def __init__(self, settings: AwsSettings, session: boto3.session.Session | None = None) -> None:
        self._endpoint_url = settings.aws_endpoint_url
        self._session = session or boto3.session.Session(region_name=settings.aws_region)
        self._config = Config(**settings.client_config_options())
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Testing only: the fault suite's plan arms the fault points and the AWS call faults.
        self._fault_plan = (
            faults.activate(settings.fault_plan) if settings.fault_plan is not None else None
        )

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
                if self._fault_plan is not None:
                    faults.AwsFaultInjector(self._fault_plan, service).attach(
                        self._clients[service]
                    )
            return self._clients[service]


class ClientSource(Protocol):
    """Where a bootstrap gets its clients: the factory, or clients a test made itself."""

    def client(self, service: str) -> Any: ...
