"""The shared settings and the one AWS client factory every service builds its clients from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from shopflow_runtime.clients import AwsClientFactory
from shopflow_runtime.settings import AwsSettings, WorkerSettings


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_given_shopflow_variables_when_worker_settings_load_then_the_shared_fields_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPFLOW_AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SHOPFLOW_AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("SHOPFLOW_LOG_LEVEL", "debug")
    monkeypatch.setenv("SHOPFLOW_DATA_BUCKET", "data")
    monkeypatch.setenv("SHOPFLOW_LEDGER_TABLE", "ledger")

    settings = WorkerSettings()

    assert (settings.aws_endpoint_url, settings.aws_retry_mode, settings.log_level) == (
        "http://127.0.0.1:1",
        "adaptive",
        "DEBUG",
    )
    assert (settings.data_bucket, settings.ledger_table, settings.poll_wait_seconds) == (
        "data",
        "ledger",
        20,
    )


def test_given_an_unknown_log_level_when_settings_load_then_they_are_refused() -> None:
    with pytest.raises(ValidationError, match="log_level"):
        AwsSettings(log_level="LOUD")


def test_given_a_read_timeout_shorter_than_the_poll_when_settings_load_then_they_are_refused() -> (
    None
):
    with pytest.raises(ValidationError, match="must exceed poll_wait_seconds"):
        WorkerSettings(
            data_bucket="data",
            ledger_table="ledger",
            poll_wait_seconds=20,
            aws_read_timeout_seconds=20,
        )


@pytest.mark.parametrize(
    ("endpoint", "chosen", "expected"),
    [
        ("http://127.0.0.1:1", None, "path"),
        (None, None, "auto"),
        (None, "virtual", "virtual"),
    ],
)
def test_s3_addressing_is_path_style_against_an_emulator_unless_chosen(
    endpoint: str | None, chosen: str | None, expected: str
) -> None:
    settings = AwsSettings(aws_endpoint_url=endpoint, s3_addressing_style=chosen)

    assert settings.client_config_options()["s3"] == {"addressing_style": expected}


def test_given_settings_when_clients_are_made_then_each_carries_the_one_configuration() -> None:
    settings = AwsSettings(
        aws_endpoint_url="http://127.0.0.1:1",
        aws_region="eu-west-1",
        aws_max_attempts=7,
        aws_connect_timeout_seconds=3,
        aws_read_timeout_seconds=45,
    )
    factory = AwsClientFactory(settings)

    s3, sqs = factory.client("s3"), factory.client("sqs")

    for client in (s3, sqs):
        assert client.meta.endpoint_url == "http://127.0.0.1:1"
        assert client.meta.region_name == "eu-west-1"
        assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (3, 45)
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 7}
    assert s3.meta.config.s3 == {"addressing_style": "path"}


def test_given_a_factory_when_a_client_is_asked_for_twice_then_it_is_made_once() -> None:
    factory = AwsClientFactory(AwsSettings(aws_endpoint_url="http://127.0.0.1:1"))

    assert factory.client("dynamodb") is factory.client("dynamodb")
    assert factory.client("dynamodb") is not factory.client("sqs")
