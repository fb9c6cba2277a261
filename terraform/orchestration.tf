# The state machine (statemachine/pipeline.asl.json rendered with templatefile) and the
# weekday schedule that starts it.

locals {
  # Every ${placeholder} of the ASL, and nothing else (tests/infra checks both directions).
  asl_template_vars = {
    scraper_function_arn   = aws_lambda_function.scraper.arn
    glue_job_name          = aws_glue_job.transform.name
    crawler_name           = aws_glue_crawler.lake.name
    athena_workgroup       = aws_athena_workgroup.pipeline.name
    glue_database          = aws_glue_catalog_database.lake.name
    quality_statement_name = aws_athena_prepared_statement.quality_check.name
    failure_topic_arn      = aws_sns_topic.failures.arn
    lake_uri               = local.lake_uri
    lake_bucket            = aws_s3_bucket.lake.bucket
    run_summaries_prefix   = local.run_summaries_prefix
    # Load Defaults: what a run that names no tickers or fan-out settings uses, whether the
    # schedule, `make aws-run` or a hand-made start-execution started it.
    default_tickers        = join(",", var.tickers)
    scrape_batch_size      = tostring(var.scrape_batch_size)
    scrape_max_concurrency = tostring(var.scrape_max_concurrency)
  }

  glue_catalog_arn = "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog"
  workgroup_arn    = "arn:${local.partition}:athena:${local.region}:${local.account_id}:workgroup/${aws_athena_workgroup.pipeline.name}"
  crawler_arn      = "arn:${local.partition}:glue:${local.region}:${local.account_id}:crawler/${aws_glue_crawler.lake.name}"
  glue_job_arn     = "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${aws_glue_job.transform.name}"
}

resource "aws_cloudwatch_log_group" "pipeline" {
  #checkov:skip=CKV_AWS_158:Execution logs hold tickers, dates and row counts only; the service-owned encryption is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); executions stay listed in Step Functions for 90 days anyway.
  # The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy small.
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = local.state_machine_name
  description        = "Step Functions pipeline: the actions its Task states call, on its own resources."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

# One statement per integration of the ASL; tests/infra reads the ASL's Task resources and
# checks each needed action is here.
data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "InvokeScraper"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.scraper.arn, "${aws_lambda_function.scraper.arn}:*"]
  }

  statement {
    sid = "RunTransformJobSync"
    actions = [
      "glue:StartJobRun",
      "glue:GetJobRun",
      "glue:GetJobRuns",
      "glue:BatchStopJobRun",
    ]
    resources = [local.glue_job_arn]
  }

  statement {
    # Read Transform Summary: the summaries only, nothing else of the lake through this.
    sid       = "ReadTransformSummary"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.run_summaries_prefix}*"]
  }

  statement {
    sid       = "RunCrawler"
    actions   = ["glue:StartCrawler", "glue:GetCrawler"]
    resources = [local.crawler_arn]
  }

  statement {
    sid = "RunQualityQuerySync"
    actions = [
      "athena:StartQueryExecution",
      "athena:GetQueryExecution",
      "athena:StopQueryExecution",
      "athena:GetQueryResults",
      "athena:GetPreparedStatement",
      "athena:GetWorkGroup",
    ]
    resources = [local.workgroup_arn]
  }

  statement {
    sid       = "AthenaDataCatalog"
    actions   = ["athena:GetDataCatalog"]
    resources = ["arn:${local.partition}:athena:${local.region}:${local.account_id}:datacatalog/AwsDataCatalog"]
  }

  statement {
    sid = "AthenaReadsCatalog"
    actions = [
      "glue:GetDatabase",
      "glue:GetDatabases",
      "glue:GetTable",
      "glue:GetTables",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
    ]
    resources = concat(
      [local.glue_catalog_arn, aws_glue_catalog_database.lake.arn],
      [for t in aws_glue_catalog_table.lake : t.arn],
    )
  }

  statement {
    # Every Athena query needs glue:GetDatabase on the catalog's `default` database, whatever
    # database it reads (Athena, "Fine-grained access to databases and tables in the AWS Glue
    # Data Catalog": https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
    sid       = "AthenaDefaultDatabase"
    actions   = ["glue:GetDatabase"]
    resources = [local.glue_catalog_arn, "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/default"]
  }

  statement {
    sid     = "AthenaReadsLakeData"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.lake.arn}/${local.raw_quotes_prefix}*",
      "${aws_s3_bucket.lake.arn}/refined/*",
    ]
  }

  statement {
    sid = "AthenaWritesResults"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.lake.arn}/${local.athena_results_prefix}*"]
  }

  statement {
    sid = "AthenaListsLake"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "NotifyFailure"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failures.arn]
  }

  statement {
    # CloudWatch Logs delivery for Step Functions: these actions take no resource ARN.
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    # X-Ray has no resource-level permissions.
    sid = "Tracing"
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "pipeline"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

resource "aws_sfn_state_machine" "pipeline" {
  name       = local.state_machine_name
  role_arn   = aws_iam_role.pipeline.arn
  type       = "STANDARD"
  definition = templatefile(local.statemachine_file, local.asl_template_vars)

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.pipeline.arn}:*"
    include_execution_data = true
    level                  = var.sfn_log_level
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.pipeline]
}

# ---------------------------------------------------------------- schedule

resource "aws_sqs_queue" "schedule_dlq" {
  name                      = "${var.project}-schedule-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.project}-scheduler"
  description        = "EventBridge Scheduler: starts the pipeline on weekdays."
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartPipeline"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.pipeline.arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "daily" {
  #checkov:skip=CKV_AWS_297:The schedule's input is a public ticker list; the AWS owned key is enough and a customer managed key would need its own key policy.
  name                         = "${var.project}-daily"
  description                  = "Weekdays after B3's close: scrape, transform, crawl, check quality."
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.pipeline.arn
    role_arn = aws_iam_role.scheduler.arn
    # The fan-out settings are the definition's defaults (Load Defaults), rendered from the
    # same variables: the schedule names only its tickers.
    input = jsonencode({ tickers = var.tickers, run_date = null })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 5
    }

    dead_letter_config {
      arn = aws_sqs_queue.schedule_dlq.arn
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
