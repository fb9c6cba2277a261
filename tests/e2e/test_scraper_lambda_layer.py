"""The scraper Lambda writes its S3 lake without pyarrow's S3 support (as in the layer).

A fresh Python process hides pyarrow's S3 module (tests/support/layer_scraper.py), then
runs functions/scraper/handler.py against moto's S3 server and the loopback BRAPI, with
the settings a Lambda function gets from its environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from b3pipeline import schema
from b3pipeline.manifest import Manifest
from tests.support.modules import REPO_ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e

BUCKET = "b3-lake-layer"


def test_scraper_handler_writes_raw_and_manifest_without_pyarrow_s3(
    brapi_url: str, moto_endpoint: str
) -> None:
    s3: S3Client = boto3.client(
        "s3",
        endpoint_url=f"http://{moto_endpoint}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "LAKE_URI": f"s3://{BUCKET}/lake",
        "BRAPI_BASE_URL": brapi_url,
        "AWS_REGION": "us-east-1",  # what Lambda sets
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_S3": f"http://{moto_endpoint}",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "b3-scraper",
    }
    event = {"tickers": ["PETR4"], "run_date": "2022-09-08", "execution_arn": "arn:exec:1"}
    completed = subprocess.run(
        [sys.executable, "-m", "tests.support.layer_scraper", json.dumps(event)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["s3_modules"] == []  # pyarrow's S3 module never loaded
    output = result["output"]
    assert output["tickers"] == ["PETR4"] and output["dates"] == ["2022-09-08"]
    assert output["rows"] == 1

    raw_key = "lake/raw/quotes/dt=2022-09-08/ticker=PETR4/quotes.parquet"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(keys) == sorted([raw_key, f"lake/{output['manifest_key']}"])
    body = s3.get_object(Bucket=BUCKET, Key=raw_key)["Body"].read()
    table = pq.read_table(pa.BufferReader(body))
    assert table.schema.equals(schema.RAW_QUOTES)
    row = table.to_pylist()[0]
    # PETR4 on 2022-09-08 in tests/fixtures' Yahoo history, through BRAPI's shape unchanged.
    assert (row["trade_date"].isoformat(), row["source"], row["currency"]) == (
        "2022-09-08",
        "brapi",
        "BRL",
    )
    manifest_body = s3.get_object(Bucket=BUCKET, Key=f"lake/{output['manifest_key']}")["Body"]
    manifest = Manifest.from_json(manifest_body.read())
    assert manifest.producer == "scraper" and manifest.execution_arn == "arn:exec:1"
    assert [(f.key, f.rows) for f in manifest.files] == [(raw_key[len("lake/") :], 1)]
    assert manifest.dates == ["2022-09-08"]
