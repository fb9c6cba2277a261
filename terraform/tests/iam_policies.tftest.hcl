# Every role's inline policy as the real AWS provider renders it (aws_iam_policy_document is
# computed inside the provider, with no API call), compared with the copy in
# tests/rendered/iam/<policy>.json that tests/infra/test_iam_*.py checks against the AWS calls
# each component makes. A policy change in terraform/*.tf that is not in the copy fails here;
# `make tf-render` rewrites the copies (scripts/tf_render_policies.py), and the Python tests
# then judge the new policy.
#
# An apply on the real provider in which every managed resource is overridden: Terraform
# calls no provider for them (the names the policies use are given below), and the provider
# renders the policy documents, a local computation. A plan would not do: Terraform defers a
# data source that depends on a resource with pending changes to the apply, overridden or not.
# tests/infra checks every resource of terraform/*.tf has an override here, so no apply
# ever reaches AWS (tf_check.sh also points every HTTPS request at a closed local port).

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
}

# ------------------------------------------------------------ every managed resource

override_resource {
  target = aws_athena_workgroup.pipeline
}

override_resource {
  target = aws_athena_prepared_statement.quality_check
}

override_resource {
  target = aws_athena_named_query.sql
}

override_resource {
  target = aws_cloudwatch_log_group.scraper
  values = {
    arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws/lambda/b3-quotes-scraper"
  }
}

override_resource {
  target = aws_iam_role.scraper
  values = {
    id  = "b3-quotes-scraper"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-scraper"
  }
}

override_resource {
  target = aws_iam_role_policy.scraper
}

override_resource {
  target = aws_lambda_function.scraper
  values = {
    arn = "arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper"
  }
}

override_resource {
  target = aws_cloudwatch_log_group.trigger
  values = {
    arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws/lambda/b3-quotes-trigger"
  }
}

override_resource {
  target = aws_sqs_queue.trigger_failures
  values = {
    arn = "arn:aws:sqs:sa-east-1:123456789012:b3-quotes-trigger-failures"
  }
}

override_resource {
  target = aws_iam_role.trigger
  values = {
    id  = "b3-quotes-trigger"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-trigger"
  }
}

override_resource {
  target = aws_iam_role_policy.trigger
}

override_resource {
  target = aws_lambda_function.trigger
  values = {
    arn = "arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-trigger"
  }
}

override_resource {
  target = aws_lambda_function_event_invoke_config.trigger
}

override_resource {
  target = aws_lambda_permission.trigger_from_s3
}

override_resource {
  target = aws_s3_object.glue_script
}

override_resource {
  target = aws_s3_object.core_wheel
}

override_resource {
  target = aws_glue_catalog_database.lake
  values = {
    arn = "arn:aws:glue:sa-east-1:123456789012:database/b3_lake"
  }
}

override_resource {
  target = aws_glue_catalog_table.lake["raw_quotes"]
  values = {
    arn = "arn:aws:glue:sa-east-1:123456789012:table/b3_lake/raw_quotes"
  }
}

override_resource {
  target = aws_glue_catalog_table.lake["quotes_daily"]
  values = {
    arn = "arn:aws:glue:sa-east-1:123456789012:table/b3_lake/quotes_daily"
  }
}

override_resource {
  target = aws_glue_catalog_table.lake["quotes_monthly"]
  values = {
    arn = "arn:aws:glue:sa-east-1:123456789012:table/b3_lake/quotes_monthly"
  }
}

override_resource {
  target = aws_cloudwatch_log_group.glue_job["output"]
  values = {
    arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws-glue/jobs/b3-quotes-transform/output"
  }
}

override_resource {
  target = aws_cloudwatch_log_group.glue_job["error"]
  values = {
    arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws-glue/jobs/b3-quotes-transform/error"
  }
}

override_resource {
  target = aws_glue_security_configuration.lake
}

override_resource {
  target = aws_iam_role.crawler
  values = {
    id  = "b3-quotes-crawler"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-crawler"
  }
}

override_resource {
  target = aws_iam_role_policy.crawler
}

override_resource {
  target = aws_glue_crawler.lake
}

override_resource {
  target = aws_iam_role.glue_job
  values = {
    id  = "b3-quotes-transform"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-transform"
  }
}

override_resource {
  target = aws_iam_role_policy.glue_job
}

override_resource {
  target = aws_glue_job.transform
}

override_resource {
  target = aws_sns_topic.failures
  values = {
    arn = "arn:aws:sns:sa-east-1:123456789012:b3-quotes-failures"
  }
}

override_resource {
  target = aws_sns_topic_subscription.email
}

override_resource {
  target = aws_cloudwatch_metric_alarm.executions
}

override_resource {
  target = aws_cloudwatch_metric_alarm.dead_letters
}

override_resource {
  target = aws_cloudwatch_log_group.pipeline
  values = {
    arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws/vendedlogs/states/b3-quotes-pipeline"
  }
}

override_resource {
  target = aws_iam_role.pipeline
  values = {
    id  = "b3-quotes-pipeline"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-pipeline"
  }
}

override_resource {
  target = aws_iam_role_policy.pipeline
}

override_resource {
  target = aws_sfn_state_machine.pipeline
  values = {
    arn = "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline"
  }
}

override_resource {
  target = aws_sqs_queue.schedule_dlq
  values = {
    arn = "arn:aws:sqs:sa-east-1:123456789012:b3-quotes-schedule-dlq"
  }
}

override_resource {
  target = aws_iam_role.scheduler
  values = {
    id  = "b3-quotes-scheduler"
    arn = "arn:aws:iam::123456789012:role/b3-quotes-scheduler"
  }
}

override_resource {
  target = aws_iam_role_policy.scheduler
}

override_resource {
  target = aws_scheduler_schedule.daily
}

override_resource {
  target = aws_s3_bucket.lake
  values = {
    id  = "b3-quotes-lake-123456789012-sa-east-1"
    arn = "arn:aws:s3:::b3-quotes-lake-123456789012-sa-east-1"
  }
}

override_resource {
  target = aws_s3_bucket_ownership_controls.lake
}

override_resource {
  target = aws_s3_bucket_public_access_block.lake
}

override_resource {
  target = aws_s3_bucket_server_side_encryption_configuration.lake
}

override_resource {
  target = aws_s3_bucket_versioning.lake
}

override_resource {
  target = aws_s3_bucket_lifecycle_configuration.lake
}

override_resource {
  target = aws_s3_bucket_policy.lake
}

override_resource {
  target = aws_s3_bucket_notification.lake
}

run "policies_render_as_their_reviewed_copies" {
  command = apply


  assert {
    condition     = jsondecode(aws_iam_role_policy.scraper.policy) == jsondecode(file("tests/rendered/iam/scraper.json"))
    error_message = "aws_iam_role_policy.scraper renders differently from tests/rendered/iam/scraper.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.trigger.policy) == jsondecode(file("tests/rendered/iam/trigger.json"))
    error_message = "aws_iam_role_policy.trigger renders differently from tests/rendered/iam/trigger.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.glue_job.policy) == jsondecode(file("tests/rendered/iam/glue_job.json"))
    error_message = "aws_iam_role_policy.glue_job renders differently from tests/rendered/iam/glue_job.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.crawler.policy) == jsondecode(file("tests/rendered/iam/crawler.json"))
    error_message = "aws_iam_role_policy.crawler renders differently from tests/rendered/iam/crawler.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.pipeline.policy) == jsondecode(file("tests/rendered/iam/pipeline.json"))
    error_message = "aws_iam_role_policy.pipeline renders differently from tests/rendered/iam/pipeline.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.scheduler.policy) == jsondecode(file("tests/rendered/iam/scheduler.json"))
    error_message = "aws_iam_role_policy.scheduler renders differently from tests/rendered/iam/scheduler.json: run `make tf-render`, review the diff, and let the IAM tests judge it."
  }
}
