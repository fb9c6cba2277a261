"""moto's server on 127.0.0.1 for the whole test session (S3, Glue, ... over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1, as host:port (what pyarrow's endpoint_override takes)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"{host}:{port}"
    finally:
        server.stop()


def moto_environment(endpoint: str, *, variable: str = "AWS_ENDPOINT_URL") -> dict[str, str]:
    """The AWS variables that point boto3 at moto's server: fake credentials, a region, no
    instance metadata look-ups, and the endpoint in `variable` (AWS_ENDPOINT_URL for every
    service, AWS_ENDPOINT_URL_S3 for S3 alone)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        variable: f"http://{endpoint}",
    }
