# Scraper (BRAPI -> raw Parquet + manifest, invoked by the state machine) and trigger
# (S3 manifest event -> StartExecution, invoked asynchronously by S3).

data "aws_iam_policy_document" "lambda_assume" {
  # No aws:SourceAccount condition: it was not confirmed that Lambda sends it when assuming
  # its role, and a condition the service does not send makes the role unusable. Only
  # principals of this account can pass the role (iam:PassRole).
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# ---------------------------------------------------------------- scraper

resource "aws_cloudwatch_log_group" "scraper" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets (the token stays in SSM); the service-owned CloudWatch Logs encryption is enough and avoids a KMS key policy for logs.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); a year of debug logs for a daily batch is cost without use.
  name              = "/aws/lambda/${local.scraper_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "scraper" {
  name               = local.scraper_name
  description        = "Scraper Lambda: writes raw quotes and manifests to the lake."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "scraper" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.scraper.arn}:*"]
  }

  statement {
    # One PutObject per file (b3pipeline.lake): no multipart upload to abort.
    sid     = "WriteRawQuotesAndManifests"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.lake.arn}/${local.raw_quotes_prefix}*",
      "${aws_s3_bucket.lake.arn}/${local.manifests_prefix}*",
    ]
  }

  statement {
    # X-Ray has no resource-level permissions: "*" is the only valid resource.
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.brapi_token_parameter_name == "" ? [] : [local.brapi_token_parameter_arn]

    content {
      sid       = "ReadBrapiToken"
      actions   = ["ssm:GetParameter"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "scraper" {
  name   = "scraper"
  role   = aws_iam_role.scraper.id
  policy = data.aws_iam_policy_document.scraper.json
}

resource "aws_lambda_function" "scraper" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the state machine, whose Retry/Catch handle failures; a DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls the public BRAPI API and S3 only; a VPC would need a NAT gateway (~USD 32/month) for no private resource.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (the BRAPI token is read from SSM at run time); the Lambda service key encrypts it at rest.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in CI; the zip is built reproducibly from the reviewed repository instead.
  function_name                  = local.scraper_name
  description                    = "Fetches daily B3 quotes from BRAPI into the raw lake zone."
  role                           = aws_iam_role.scraper.arn
  runtime                        = local.lambda_runtime
  handler                        = local.lambda_handler
  filename                       = local.scraper_zip
  source_code_hash               = filebase64sha256(local.scraper_zip)
  architectures                  = ["x86_64"]
  layers                         = [var.pandas_layer_arn]
  memory_size                    = var.scraper_memory_mb
  timeout                        = var.scraper_timeout_seconds
  reserved_concurrent_executions = var.scraper_reserved_concurrency

  environment {
    variables = {
      LAKE_URI                   = local.lake_uri
      BRAPI_BASE_URL             = var.brapi_base_url
      BRAPI_TOKEN_PARAMETER      = var.brapi_token_parameter_name
      BRAPI_CONCURRENCY          = tostring(var.brapi_concurrency)
      BRAPI_TICKERS_PER_REQUEST  = tostring(var.brapi_tickers_per_request)
      B3_MAX_FAILED_TICKER_SHARE = tostring(var.max_failed_ticker_share)
      LOG_LEVEL                  = var.log_level
      POWERTOOLS_SERVICE_NAME    = "b3-scraper"
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.scraper, aws_iam_role_policy.scraper]
}

# ---------------------------------------------------------------- trigger

resource "aws_cloudwatch_log_group" "trigger" {
  #checkov:skip=CKV_AWS_158:Logs hold no secrets; the service-owned CloudWatch Logs encryption is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); see the scraper log group.
  name              = "/aws/lambda/${local.trigger_name}"
  retention_in_days = var.log_retention_days
}

# Asynchronous S3 invocations that still fail after Lambda's retries land here (with the
# request and error), and an alarm in monitoring.tf says so.
resource "aws_sqs_queue" "trigger_failures" {
  name                      = "${local.trigger_name}-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_iam_role" "trigger" {
  name               = local.trigger_name
  description        = "Trigger Lambda: starts a pipeline execution for a new raw manifest."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "trigger" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trigger.arn}:*"]
  }

  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.manifests_prefix}*"]
  }

  statement {
    sid       = "StartPipeline"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.pipeline.arn]
  }

  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.trigger_failures.arn]
  }

  statement {
    # X-Ray has no resource-level permissions: "*" is the only valid resource.
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "trigger" {
  name   = "trigger"
  role   = aws_iam_role.trigger.id
  policy = data.aws_iam_policy_document.trigger.json
}

resource "aws_lambda_function" "trigger" {
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to an on-failure destination (aws_lambda_function_event_invoke_config.trigger), which records more than a DLQ.
  #checkov:skip=CKV_AWS_117:Reaches only S3 and Step Functions public endpoints; a VPC would add endpoints or a NAT for nothing.
  #checkov:skip=CKV_AWS_173:The environment holds only the state machine ARN and the log level, no secrets.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zip is built reproducibly from the repository instead.
  function_name                  = local.trigger_name
  description                    = "Starts a pipeline execution for raw data dropped outside the schedule."
  role                           = aws_iam_role.trigger.arn
  runtime                        = local.lambda_runtime
  handler                        = local.lambda_handler
  filename                       = local.trigger_zip
  source_code_hash               = filebase64sha256(local.trigger_zip)
  architectures                  = ["x86_64"]
  memory_size                    = 128
  timeout                        = 30
  reserved_concurrent_executions = var.trigger_reserved_concurrency

  environment {
    variables = {
      STATE_MACHINE_ARN       = aws_sfn_state_machine.pipeline.arn
      LOG_LEVEL               = var.log_level
      POWERTOOLS_SERVICE_NAME = "b3-trigger"
    }
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.trigger, aws_iam_role_policy.trigger]
}

resource "aws_lambda_function_event_invoke_config" "trigger" {
  function_name                = aws_lambda_function.trigger.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.trigger_failures.arn
    }
  }
}

resource "aws_lambda_permission" "trigger_from_s3" {
  statement_id   = "AllowLakeManifestNotifications"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.trigger.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.lake.arn
  source_account = local.account_id
}
