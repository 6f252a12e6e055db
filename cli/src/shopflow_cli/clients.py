"""The CLI's AWS clients, from the runtime's one client factory (as the services get theirs).

One factory per endpoint and region, so a command reuses its clients; against a moto server
the session carries moto's dummy credentials, so boto3 never looks for real ones.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from shopflow_runtime.clients import AwsClientFactory
from shopflow_runtime.settings import AwsSettings

REGION = "us-east-1"
# moto accepts any credentials; setting them keeps boto3 from searching the machine for real ones.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@functools.cache
def _factory(endpoint_url: str | None, region: str) -> AwsClientFactory:
    settings = AwsSettings(aws_endpoint_url=endpoint_url, aws_region=region)
    if endpoint_url is None:
        return AwsClientFactory(settings)
    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return AwsClientFactory(settings, session)


def aws_client(service: str, endpoint_url: str | None, region: str = REGION) -> Any:
    return _factory(endpoint_url, region).client(service)
