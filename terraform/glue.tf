# Transform job (Glue 5.1 Spark, split by ticker), Data Catalog database and tables, and the
# crawler. The job registers the partitions it writes; the state machine runs the crawler only
# to repair the catalog. Why: docs/adr/0002-catalog-tables-defined-in-terraform.md.

# ---------------------------------------------------------------- artifacts

resource "aws_s3_object" "glue_script" {
  bucket = aws_s3_bucket.lake.id
  key    = "${local.artifacts_prefix}glue/transform_job.py"
  source = local.glue_script_file
  etag   = filemd5(local.glue_script_file)
}

resource "aws_s3_object" "core_wheel" {
  bucket = aws_s3_bucket.lake.id
  key    = "${local.artifacts_prefix}glue/${local.core_wheel_name}"
  source = local.core_wheel_file
  etag   = filemd5(local.core_wheel_file)
}

# ---------------------------------------------------------------- catalog

locals {
  # Column contracts of src/b3pipeline/schema.py (tests/infra checks they agree). Partition
  # columns are not inside the Parquet files; they are strings as in the folder names.
  catalog_tables = {
    raw_quotes = {
      description = "Daily bars as BRAPI returned them, one file per trade date and ticker."
      location    = local.raw_quotes_prefix
      partitions  = ["dt", "ticker"]
      columns = [
        { name = "trade_date", type = "date" },
        { name = "open", type = "double" },
        { name = "high", type = "double" },
        { name = "low", type = "double" },
        { name = "close", type = "double" },
        { name = "adjusted_close", type = "double" },
        { name = "volume", type = "bigint" },
        { name = "currency", type = "string" },
        { name = "source", type = "string" },
        { name = "ingested_at", type = "timestamp" },
        { name = "request_range", type = "string" },
      ]
    }
    quotes_daily = {
      description = "Renamed daily bars with returns, moving averages and volatility."
      location    = local.quotes_daily_prefix
      partitions  = ["dt", "ticker"]
      columns = [
        { name = "trade_date", type = "date" },
        { name = "open_price", type = "double" },
        { name = "high_price", type = "double" },
        { name = "low_price", type = "double" },
        { name = "close_price", type = "double" },
        { name = "adj_close_price", type = "double" },
        { name = "volume", type = "bigint" },
        { name = "daily_return_pct", type = "double" },
        { name = "sma_5", type = "double" },
        { name = "sma_20", type = "double" },
        { name = "sma_50", type = "double" },
        { name = "volatility_20d_pct", type = "double" },
        { name = "days_since_prev_trade", type = "int" },
        { name = "day_of_week", type = "tinyint" },
        { name = "processed_at", type = "timestamp" },
      ]
    }
    quotes_monthly = {
      description = "Monthly aggregates per ticker."
      location    = local.quotes_monthly_prefix
      partitions  = ["month", "ticker"]
      columns = [
        { name = "first_trade_date", type = "date" },
        { name = "last_trade_date", type = "date" },
        { name = "trading_days", type = "int" },
        { name = "open_price", type = "double" },
        { name = "close_price", type = "double" },
        { name = "high_price", type = "double" },
        { name = "low_price", type = "double" },
        { name = "avg_volume", type = "double" },
        { name = "total_volume", type = "bigint" },
        { name = "monthly_return_pct", type = "double" },
        { name = "processed_at", type = "timestamp" },
      ]
    }
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = var.glue_database
  description = "B3 quotes lake: raw and refined tables (${local.lake_uri})."
}

resource "aws_glue_catalog_table" "lake" {
  for_each = local.catalog_tables

  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL       = "TRUE"
    classification = "parquet"
  }

  dynamic "partition_keys" {
    for_each = each.value.partitions

    content {
      name = partition_keys.value
      type = "string"
    }
  }

  storage_descriptor {
    location      = "${local.lake_uri}/${each.value.location}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value.columns

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# ---------------------------------------------------------------- security configuration

resource "aws_glue_security_configuration" "lake" {
  #checkov:skip=CKV_AWS_99:S3 writes use SSE-S3 like the bucket default; KMS for Glue's CloudWatch logs and bookmarks (the job uses none) would need a customer managed key and its key policy.
  name = "${var.project}-glue"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "DISABLED"
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "DISABLED"
    }

    s3_encryption {
      s3_encryption_mode = "SSE-S3"
    }
  }
}

# ---------------------------------------------------------------- crawler

data "aws_iam_policy_document" "glue_assume" {
  # No aws:SourceAccount condition: it was not confirmed that Glue sends it when assuming
  # its role, and a condition the service does not send makes the role unusable. Only
  # principals of this account can pass the role (iam:PassRole).
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  name               = local.crawler_name
  description        = "Glue crawler: adds new partitions of the lake tables to the catalog."
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid = "SyncLakeTables"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:UpdateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:BatchUpdatePartition",
    ]
    resources = concat(
      [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        aws_glue_catalog_database.lake.arn,
      ],
      [for t in aws_glue_catalog_table.lake : t.arn],
    )
  }

  # AWS documents a crawler role as AWSGlueServiceRole "or a scoped down version" plus read
  # access to the data (Glue, "Crawler prerequisites"). This is that policy scoped to the lake:
  # its bucket-level S3 actions unconditioned as in the managed policy (the crawler lists and
  # locates the bucket, not only the table prefixes), its metrics and its log group.
  statement {
    sid       = "ListAndLocateLake"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "PublishCrawlerMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }

  statement {
    sid     = "ReadTableData"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.lake.arn}/${local.raw_quotes_prefix}*",
      "${aws_s3_bucket.lake.arn}/refined/*",
    ]
  }

  statement {
    sid       = "WriteCrawlerLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/crawlers*"]
  }
}

resource "aws_iam_role_policy" "crawler" {
  name   = "crawler"
  role   = aws_iam_role.crawler.id
  policy = data.aws_iam_policy_document.crawler.json
}

resource "aws_glue_crawler" "lake" {
  name                   = local.crawler_name
  description            = "Adds new dt/month and ticker partitions of the lake tables. Run by the state machine, no schedule of its own."
  role                   = aws_iam_role.crawler.arn
  database_name          = aws_glue_catalog_database.lake.name
  security_configuration = aws_glue_security_configuration.lake.name

  catalog_target {
    database_name = aws_glue_catalog_database.lake.name
    tables        = [for t in aws_glue_catalog_table.lake : t.name]
  }

  # Terraform owns the table schemas: the crawler logs what it would change instead of
  # changing it, and never deletes a table or partition (catalog targets cannot DEPRECATE).
  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  # Catalog targets are crawled whole; a daily run adds one partition per ticker.
  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  configuration = jsonencode({
    Version = 1
    CrawlerOutput = {
      Partitions = { AddOrUpdateBehavior = "InheritFromTable" }
    }
    Grouping = {
      TableGroupingPolicy = "CombineCompatibleSchemas"
    }
  })

  depends_on = [aws_iam_role_policy.crawler]
}

# ---------------------------------------------------------------- transform job

# Glue 5.x writes a job's logs to <prefix>/output (stdout and stderr: the script's log) and
# <prefix>/error (Spark's and Glue's own) when the job says --custom-logGroup-prefix, instead of
# /aws-glue/jobs/output and /aws-glue/jobs/error, which Glue would create with no retention
# ("Logging for AWS Glue jobs", https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html).
# Terraform owns these two, so they expire and `make destroy` removes them.
resource "aws_cloudwatch_log_group" "glue_job" {
  #checkov:skip=CKV_AWS_158:The job logs tickers, dates and counts only; the service-owned CloudWatch Logs encryption is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); a year of a daily batch's Spark logs is cost without use.
  for_each = toset(["output", "error"])

  name              = "${local.glue_job_log_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "glue_job" {
  name               = local.glue_job_name
  description        = "Glue transform job: reads raw quotes, writes refined tables."
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

data "aws_iam_policy_document" "glue_job" {
  statement {
    sid     = "ReadArtifacts"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.lake.arn}/${aws_s3_object.glue_script.key}",
      "${aws_s3_bucket.lake.arn}/${aws_s3_object.core_wheel.key}",
    ]
  }

  statement {
    # The transform GETs the raw files of its window and lookback, nothing else (the lake's
    # S3 side is boto3: no parent-"directory" probes).
    sid       = "ReadRawQuotes"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/raw/quotes/*"]
  }

  statement {
    # One PutObject per file, a DeleteObject per file a rerun leaves without rows (b3pipeline.lake).
    sid       = "WriteRefinedTables"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/refined/*"]
  }

  statement {
    # The run summary (runs/transform/<JOB_RUN_ID>.json) that the state machine reads.
    sid       = "WriteRunSummary"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.run_summaries_prefix}*"]
  }

  statement {
    # b3pipeline.catalog_registration: GetTable once per table (its storage descriptor and
    # schema), BatchCreatePartition for the files the run wrote, BatchDeletePartition for
    # those it deleted. Nothing else: the tables are Terraform's.
    sid     = "RegisterPartitions"
    actions = ["glue:GetTable", "glue:BatchCreatePartition", "glue:BatchDeletePartition"]
    resources = concat(
      [local.glue_catalog_arn, aws_glue_catalog_database.lake.arn],
      [for t in aws_glue_catalog_table.lake : t.arn],
    )
  }

  statement {
    # Unconditioned on purpose: see the scraper's ListLake statement (pyarrow probes).
    sid       = "ListLake"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    # Job and observability metrics (--enable-metrics, --enable-observability-metrics).
    sid       = "PublishJobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition scopes it

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }

  statement {
    # Its two log groups only (they exist: Terraform made them; CreateLogGroup is kept, as in
    # AWSGlueServiceRole, in case Glue asks for them anyway, and answers AlreadyExists).
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = flatten([for group in aws_cloudwatch_log_group.glue_job : [group.arn, "${group.arn}:*"]])
  }
}

resource "aws_iam_role_policy" "glue_job" {
  name   = "transform-job"
  role   = aws_iam_role.glue_job.id
  policy = data.aws_iam_policy_document.glue_job.json
}

resource "aws_glue_job" "transform" {
  name        = local.glue_job_name
  description = "raw/quotes -> refined/quotes_daily and refined/quotes_monthly: one Spark task per ticker running b3pipeline.transform; registers its partitions and writes runs/transform/<run id>.json."
  role_arn    = aws_iam_role.glue_job.arn
  # Spark 3.5.6, Python 3.11, Java 17: what `make test` runs the script on locally.
  glue_version           = "5.1"
  worker_type            = var.glue_worker_type
  number_of_workers      = var.glue_number_of_workers
  execution_class        = var.glue_execution_class
  timeout                = var.glue_job_timeout_minutes
  max_retries            = 0 # the state machine retries with backoff; a Glue retry would double-run
  security_configuration = aws_glue_security_configuration.lake.name

  command {
    name            = "glueetl"
    script_location = "s3://${aws_s3_bucket.lake.bucket}/${aws_s3_object.glue_script.key}"
  }

  execution_property {
    max_concurrent_runs = 2
  }

  # Job parameters: https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html
  default_arguments = {
    "--job-language" = "python"
    # pip installs the core wheel on the driver and on every executor, where the per-ticker
    # tasks import it. Its requirements are all among the libraries Glue 5.1 provides
    # (tests/spark/test_glue_provided_libraries.py), so pip never needs an index:
    # --no-index makes a run fail at once rather than reach PyPI.
    "--additional-python-modules"       = "s3://${aws_s3_bucket.lake.bucket}/${aws_s3_object.core_wheel.key}"
    "--python-modules-installer-option" = "--no-index"
    "--enable-metrics"                  = "true"
    "--enable-observability-metrics"    = "true"
    # Glue 5.x streams every job's logs in real time (stdout/stderr, where the script logs,
    # to <prefix>/output; Spark's to <prefix>/error); set explicitly all the same.
    "--enable-continuous-cloudwatch-log" = "true"
    "--custom-logGroup-prefix"           = local.glue_job_log_prefix
    "--job-bookmark-option"              = "job-bookmark-disable"
    "--lake_uri"                         = local.lake_uri
    # Default arguments, not ones the state machine sends: every run of the job, also one
    # started by hand, registers its partitions (b3pipeline.catalog_registration), and
    # every AWS client it makes, on the driver and the executors, uses this region (whether
    # Glue sets one in a job's environment is not documented).
    "--catalog_database" = aws_glue_catalog_database.lake.name
    "--aws_region"       = local.region
  }

  lifecycle {
    precondition {
      condition     = var.glue_execution_class == "STANDARD" || contains(["G.1X", "G.2X"], var.glue_worker_type)
      error_message = "FLEX runs accept only G.1X and G.2X workers: set glue_worker_type to one of them or glue_execution_class to STANDARD."
    }
  }

  depends_on = [aws_iam_role_policy.glue_job, aws_cloudwatch_log_group.glue_job]
}
