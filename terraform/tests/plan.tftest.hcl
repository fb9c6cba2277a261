# The whole stack planned by the real AWS provider (offline: faked credentials, no account
# lookup, the caller identity overridden), so every variable validation, precondition and
# provider-side check (argument names, enums, ARN formats, conflicts) runs as it would for a
# user's first `terraform plan`. Run by `make tf-check` (scripts/tf_check.sh).

provider "aws" {
  region                      = var.aws_region
  access_key                  = "tf-check-offline"
  secret_key                  = "tf-check-offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/tf-check"
    user_id    = "AIDATFCHECK"
  }
}

variables {
  aws_region                 = "sa-east-1"
  pandas_layer_arn           = "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python312:22"
  brapi_token_parameter_name = "/b3-quotes/brapi-token"
  alert_email                = "data-team@example.com"
}

run "whole_stack_plans" {
  command = plan

  assert {
    condition     = aws_s3_bucket.lake.bucket == "b3-quotes-lake-123456789012-sa-east-1"
    error_message = "The default lake bucket name should be <project>-lake-<account>-<region>."
  }

  assert {
    condition     = aws_lambda_function.scraper.layers == tolist([var.pandas_layer_arn])
    error_message = "The scraper should carry exactly the AWS SDK for pandas layer."
  }

  assert {
    condition     = aws_glue_job.transform.glue_version == "5.1" && aws_glue_job.transform.execution_class == "FLEX"
    error_message = "The transform job should be a Glue 5.1 job on FLEX by default."
  }

  # S3 removes a delete marker whose noncurrent versions have all expired only with
  # ExpiredObjectDeleteMarker, which an Expiration with Days or Date cannot carry.
  assert {
    condition = anytrue([
      for r in aws_s3_bucket_lifecycle_configuration.lake.rule : try(
        r.status == "Enabled" && r.expiration[0].expired_object_delete_marker == true
        && contains([0, null], r.expiration[0].days) && r.expiration[0].date == null
        && contains(["", null], r.filter[0].prefix),
        false, # a rule without an expiration or a filter block
      )
    ])
    error_message = "One enabled lifecycle rule over the whole lake bucket should remove expired object delete markers (an expiration with expired_object_delete_marker and no days or date)."
  }

  # One alert per failure: Notify Failure sends the caught ones, the EventBridge rule the
  # others; an ExecutionsFailed alarm would mail every caught failure a second time.
  assert {
    condition     = sort(keys(aws_cloudwatch_metric_alarm.executions)) == tolist(["aborted", "timed-out"]) && !contains([for a in aws_cloudwatch_metric_alarm.executions : a.metric_name], "ExecutionsFailed")
    error_message = "Execution alarms should cover TIMED_OUT and ABORTED only: failed executions are alerted by Notify Failure or the failed_without_alert rule."
  }
}

run "glue_job_metrics_are_off_by_default" {
  command = plan

  assert {
    condition     = !contains(keys(aws_glue_job.transform.default_arguments), "--enable-metrics") && !contains(keys(aws_glue_job.transform.default_arguments), "--enable-observability-metrics")
    error_message = "The job's CloudWatch metrics are opt-in (glue_job_metrics): --enable-metrics turns them on whatever its value."
  }
}

run "glue_job_metrics_turned_on" {
  command = plan
  variables {
    glue_job_metrics = true
  }

  assert {
    condition     = aws_glue_job.transform.default_arguments["--enable-metrics"] == "true" && aws_glue_job.transform.default_arguments["--enable-observability-metrics"] == "true"
    error_message = "glue_job_metrics = true should pass --enable-metrics and --enable-observability-metrics."
  }
}

# ------------------------------------------------------------ variable validations
# One refused value per validation block (tests/infra checks every block has a run here).

run "region_outside_the_aws_partition_is_refused" {
  command = plan
  variables {
    aws_region       = "us-gov-west-1"
    pandas_layer_arn = "arn:aws:lambda:us-gov-west-1:336392948345:layer:AWSSDKPandas-Python312:22"
  }
  expect_failures = [var.aws_region]
}

run "project_too_long_is_refused" {
  command = plan
  variables {
    project = "b3-quotes-with-a-name-over-thirty"
  }
  expect_failures = [var.project]
}

run "project_with_a_reserved_bucket_prefix_is_refused" {
  command = plan
  variables {
    project = "xn--quotes"
  }
  expect_failures = [var.project]
}

run "bucket_name_with_upper_case_is_refused" {
  command = plan
  variables {
    bucket_name = "B3-Lake"
  }
  expect_failures = [var.bucket_name]
}

run "bucket_name_with_adjacent_periods_is_refused" {
  command = plan
  variables {
    bucket_name = "b3..lake"
  }
  expect_failures = [var.bucket_name]
}

run "bucket_name_formatted_as_an_ip_address_is_refused" {
  command = plan
  variables {
    bucket_name = "192.168.5.4"
  }
  expect_failures = [var.bucket_name]
}

run "bucket_name_with_a_reserved_prefix_is_refused" {
  command = plan
  variables {
    bucket_name = "amzn-s3-demo-b3-lake"
  }
  expect_failures = [var.bucket_name]
}

run "bucket_name_with_a_reserved_suffix_is_refused" {
  command = plan
  variables {
    bucket_name = "b3-lake--ol-s3"
  }
  expect_failures = [var.bucket_name]
}

run "lower_case_ticker_is_refused" {
  command = plan
  variables {
    tickers = ["petr4"]
  }
  expect_failures = [var.tickers]
}

run "ticker_without_its_class_digits_is_refused" {
  command = plan
  variables {
    tickers = ["PETR4", "PETR"]
  }
  expect_failures = [var.tickers]
}

run "more_tickers_than_a_run_takes_are_refused" {
  command = plan
  variables {
    tickers = [for n in concat(range(1000), range(1000, 2001)) : format("A%04d3", n)]
  }
  expect_failures = [var.tickers]
}

run "ticker_longer_than_a_b3_symbol_is_refused" {
  command = plan
  variables {
    tickers = ["PETR44444"]
  }
  expect_failures = [var.tickers]
}

run "scrape_batch_size_of_zero_is_refused" {
  command = plan
  variables {
    scrape_batch_size = 0
  }
  expect_failures = [var.scrape_batch_size]
}

run "more_batches_than_a_run_takes_are_refused" {
  command = plan
  variables {
    tickers           = [for n in range(101) : format("A%04d3", n)]
    scrape_batch_size = 1
  }
  expect_failures = [var.scrape_batch_size]
}

run "scrape_max_concurrency_over_the_inline_map_limit_is_refused" {
  command = plan
  variables {
    scrape_max_concurrency = 41
  }
  expect_failures = [var.scrape_max_concurrency]
}

run "scrape_max_concurrency_over_the_reserved_concurrency_is_refused" {
  command = plan
  variables {
    scraper_reserved_concurrency = 1
    scrape_max_concurrency       = 2
  }
  expect_failures = [var.scrape_max_concurrency]
}

run "schedule_that_is_not_cron_or_rate_is_refused" {
  command = plan
  variables {
    schedule_expression = "0 19 * * 1-5"
  }
  expect_failures = [var.schedule_expression]
}

run "schedule_timezone_with_spaces_is_refused" {
  command = plan
  variables {
    schedule_timezone = "Sao Paulo"
  }
  expect_failures = [var.schedule_timezone]
}

run "pandas_layer_of_another_runtime_is_refused" {
  command = plan
  variables {
    pandas_layer_arn = "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python39:22"
  }
  expect_failures = [var.pandas_layer_arn]
}

run "pandas_layer_from_another_region_is_refused" {
  command = plan
  variables {
    pandas_layer_arn = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:22"
  }
  expect_failures = [var.pandas_layer_arn]
}

run "plain_http_brapi_url_is_refused" {
  command = plan
  variables {
    brapi_base_url = "http://brapi.dev"
  }
  expect_failures = [var.brapi_base_url]
}

run "fractional_brapi_concurrency_is_refused" {
  command = plan
  variables {
    brapi_concurrency = 2.5
  }
  expect_failures = [var.brapi_concurrency]
}

run "brapi_tickers_per_request_of_zero_is_refused" {
  command = plan
  variables {
    brapi_tickers_per_request = 0
  }
  expect_failures = [var.brapi_tickers_per_request]
}

run "failed_ticker_share_above_one_is_refused" {
  command = plan
  variables {
    max_failed_ticker_share = 1.5
  }
  expect_failures = [var.max_failed_ticker_share]
}

run "relative_ssm_parameter_name_is_refused" {
  command = plan
  variables {
    brapi_token_parameter_name = "b3-quotes/brapi-token"
  }
  expect_failures = [var.brapi_token_parameter_name]
}

run "unknown_log_level_is_refused" {
  command = plan
  variables {
    log_level = "TRACE"
  }
  expect_failures = [var.log_level]
}

run "log_retention_cloudwatch_does_not_offer_is_refused" {
  command = plan
  variables {
    log_retention_days = 2
  }
  expect_failures = [var.log_retention_days]
}

run "scraper_timeout_over_lambda_limit_is_refused" {
  command = plan
  variables {
    scraper_timeout_seconds = 901
  }
  expect_failures = [var.scraper_timeout_seconds]
}

run "scraper_memory_too_small_for_pandas_is_refused" {
  command = plan
  variables {
    scraper_memory_mb = 128
  }
  expect_failures = [var.scraper_memory_mb]
}

run "scraper_reserved_concurrency_zero_is_refused" {
  command = plan
  variables {
    scraper_reserved_concurrency = 0
  }
  expect_failures = [var.scraper_reserved_concurrency]
}

run "trigger_reserved_concurrency_zero_is_refused" {
  command = plan
  variables {
    trigger_reserved_concurrency = 0
  }
  expect_failures = [var.trigger_reserved_concurrency]
}

run "glue_database_with_hyphens_is_refused" {
  command = plan
  variables {
    glue_database = "b3-lake"
  }
  expect_failures = [var.glue_database]
}

run "glue_timeout_over_two_days_is_refused" {
  command = plan
  variables {
    glue_job_timeout_minutes = 2881
  }
  expect_failures = [var.glue_job_timeout_minutes]
}

run "unknown_glue_worker_type_is_refused" {
  command = plan
  variables {
    glue_worker_type = "G.025X"
  }
  expect_failures = [var.glue_worker_type]
}

run "glue_job_with_one_worker_is_refused" {
  command = plan
  variables {
    glue_number_of_workers = 1
  }
  expect_failures = [var.glue_number_of_workers]
}

run "unknown_glue_execution_class_is_refused" {
  command = plan
  variables {
    glue_execution_class = "SPOT"
  }
  expect_failures = [var.glue_execution_class]
}

run "flex_on_g4x_is_refused" {
  command = plan
  variables {
    glue_execution_class = "FLEX"
    glue_worker_type     = "G.4X"
  }
  expect_failures = [aws_glue_job.transform]
}

run "athena_cutoff_under_10_mb_is_refused" {
  command = plan
  variables {
    athena_bytes_scanned_cutoff = 1048576
  }
  expect_failures = [var.athena_bytes_scanned_cutoff]
}

run "athena_results_kept_zero_days_is_refused" {
  command = plan
  variables {
    athena_results_expiration_days = 0
  }
  expect_failures = [var.athena_results_expiration_days]
}

run "noncurrent_versions_kept_zero_days_is_refused" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "quality_statement_name_with_a_hyphen_is_refused" {
  command = plan
  variables {
    quality_statement_name = "quality-check"
  }
  expect_failures = [var.quality_statement_name]
}

run "one_character_quality_statement_name_is_refused" {
  command = plan
  variables {
    quality_statement_name = "q"
  }
  expect_failures = [var.quality_statement_name]
}

run "unknown_sfn_log_level_is_refused" {
  command = plan
  variables {
    sfn_log_level = "DEBUG"
  }
  expect_failures = [var.sfn_log_level]
}

run "alert_email_without_a_domain_is_refused" {
  command = plan
  variables {
    alert_email = "data-team"
  }
  expect_failures = [var.alert_email]
}
