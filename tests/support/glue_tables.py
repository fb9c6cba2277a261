"""The Glue database and tables exactly as terraform/glue.tf defines them, for moto's Glue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.infra import _hcl

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient


def terraform_table_inputs(bucket: str) -> dict[str, Any]:
    """TableInput of each table exactly as terraform/glue.tf defines it (lake at s3://bucket)."""
    locals_ = _hcl.locals_()
    resource = _hcl.resources("aws_glue_catalog_table")["lake"]
    descriptor = resource["storage_descriptor"][0]
    serde = descriptor["ser_de_info"][0]
    inputs: dict[str, Any] = {}
    for name, spec in locals_["catalog_tables"].items():
        location = _hcl.resolve_locals(spec["location"], locals_)
        inputs[name] = {
            "Name": name,
            "TableType": resource["table_type"],
            "Parameters": resource["parameters"],
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in spec["partitions"]],
            "StorageDescriptor": {
                "Location": f"s3://{bucket}/{location}",
                "InputFormat": descriptor["input_format"],
                "OutputFormat": descriptor["output_format"],
                "SerdeInfo": {
                    "Name": serde["name"],
                    "SerializationLibrary": serde["serialization_library"],
                    "Parameters": serde["parameters"],
                },
                "Columns": [{"Name": c["name"], "Type": c["type"]} for c in spec["columns"]],
            },
        }
    return inputs


def create_terraform_catalog(client: GlueClient, database: str, bucket: str) -> None:
    """The database and its three tables, as `terraform apply` leaves them."""
    client.create_database(DatabaseInput={"Name": database})
    for table_input in terraform_table_inputs(bucket).values():
        client.create_table(DatabaseName=database, TableInput=table_input)


def partition_values(client: GlueClient, database: str, table: str) -> list[list[str]]:
    """Every partition's Values of a table, sorted."""
    paginator = client.get_paginator("get_partitions")
    pages = paginator.paginate(DatabaseName=database, TableName=table)
    return sorted(partition["Values"] for page in pages for partition in page["Partitions"])
