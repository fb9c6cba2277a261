# The stack applied on a mock AWS provider (Terraform 1.7+ "Tests - Provider Mocking"): no
# account, no API call. Every resource type whose ARN reaches the state machine definition or
# a role gets a mock ARN in the stack's partition, region and account, so what Terraform
# renders (templatefile of statemachine/pipeline.asl.json) can be read back and checked.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/tf-check"
      user_id    = "AIDATFCHECK"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition          = "aws"
      dns_suffix         = "amazonaws.com"
      reverse_dns_prefix = "com.amazonaws"
    }
  }

  # aws_iam_policy_document is rendered by the provider itself; a mock only makes up a
  # string, which IAM role policies would refuse. Its real rendering is iam_policies.tftest.hcl.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::b3-quotes-lake-123456789012-sa-east-1"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/b3-quotes-mock-role"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn           = "arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper"
      invoke_arn    = "arn:aws:apigateway:sa-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper/invocations"
      qualified_arn = "arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper:1"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:sa-east-1:123456789012:log-group:/aws/mock"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:sa-east-1:123456789012:b3-quotes-mock-queue"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:sa-east-1:123456789012:b3-quotes-failures"
    }
  }

  mock_resource "aws_sfn_state_machine" {
    defaults = {
      arn = "arn:aws:states:sa-east-1:123456789012:stateMachine:b3-quotes-pipeline"
    }
  }

  mock_resource "aws_glue_catalog_database" {
    defaults = {
      arn = "arn:aws:glue:sa-east-1:123456789012:database/b3_lake"
    }
  }

  mock_resource "aws_glue_catalog_table" {
    defaults = {
      arn = "arn:aws:glue:sa-east-1:123456789012:table/b3_lake/mock"
    }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:sa-east-1:123456789012:rule/b3-quotes-pipeline-failed-without-alert"
    }
  }

  mock_resource "aws_athena_workgroup" {
    defaults = {
      arn = "arn:aws:athena:sa-east-1:123456789012:workgroup/b3-quotes-wg"
    }
  }
}

variables {
  aws_region       = "sa-east-1"
  pandas_layer_arn = "arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python312:22"
}

run "apply_renders_the_state_machine_definition" {
  command = apply

  assert {
    condition     = can(jsondecode(aws_sfn_state_machine.pipeline.definition).States)
    error_message = "The rendered state machine definition is not JSON with States."
  }

  assert {
    condition     = !strcontains(aws_sfn_state_machine.pipeline.definition, "$${")
    error_message = "A $${placeholder} of statemachine/pipeline.asl.json was left unrendered."
  }

  # Service integrations (arn:aws:states:::glue:startJobRun.sync) name no region or account;
  # every other ARN must be one of this stack's: a typo'd or hard-coded ARN fails at run time.
  assert {
    condition = alltrue([
      for arn in flatten(regexall("\"(arn:[^\"]*)\"", aws_sfn_state_machine.pipeline.definition)) :
      startswith(arn, "arn:aws:states:::") || (
        split(":", arn)[1] == "aws" && split(":", arn)[3] == var.aws_region && split(":", arn)[4] == "123456789012"
      )
    ])
    error_message = "An ARN in the rendered definition is outside the stack's partition, region or account: ${jsonencode(flatten(regexall("\"(arn:[^\"]*)\"", aws_sfn_state_machine.pipeline.definition)))}"
  }

  assert {
    condition     = length(regexall("\"(arn:[^\"]*)\"", aws_sfn_state_machine.pipeline.definition)) > 0
    error_message = "The rendered definition holds no ARN at all: the ARN check above checked nothing."
  }

  assert {
    condition = jsondecode(aws_scheduler_schedule.daily.target[0].input) == {
      tickers  = ["PETR4"]
      run_date = null
    }
    error_message = "The schedule should start the state machine with its tickers: ${aws_scheduler_schedule.daily.target[0].input}"
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.pipeline.definition).States["Load Defaults"].Parameters.defaults["tickers.$"] == "States.StringSplit('PETR4', ',')" && jsondecode(aws_sfn_state_machine.pipeline.definition).States["Load Defaults"].Parameters.defaults.settings == {
      crawler_poll_seconds       = 30
      crawler_max_polls          = 40
      crawl                      = "auto"
      "scrape_batch_size.$"      = "States.StringToJson('50')"
      "scrape_max_concurrency.$" = "States.StringToJson('2')"
    }
    error_message = "Load Defaults should default to the deployed tickers and fan-out settings (tickers, scrape_batch_size, scrape_max_concurrency)."
  }

  assert {
    condition     = strcontains(aws_sfn_state_machine.pipeline.definition, "\"arn:aws:lambda:sa-east-1:123456789012:function:b3-quotes-scraper\"")
    error_message = "The Scrape Quotes task should invoke the scraper function's ARN."
  }
}

run "apply_renders_the_failed_without_alert_rule" {
  command = apply

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.failed_without_alert.event_pattern) == {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail = {
        stateMachineArn = [aws_sfn_state_machine.pipeline.arn]
        status          = ["FAILED"]
        error = [
          { "anything-but" = { prefix = "B3Pipeline." } },
          "B3Pipeline.NotifyFailed",
          { exists = false },
          null,
        ]
      }
    }
    error_message = "The rule should take this state machine's FAILED executions whose error Notify Failure did not send: ${aws_cloudwatch_event_rule.failed_without_alert.event_pattern}"
  }

  assert {
    condition     = aws_cloudwatch_event_target.failed_without_alert.arn == aws_sns_topic.failures.arn
    error_message = "The rule should publish to the failure topic."
  }

  assert {
    condition     = can(jsondecode(aws_cloudwatch_event_target.failed_without_alert.input_transformer[0].input_template))
    error_message = "EventBridge needs an input template that is JSON (a quoted string here)."
  }
}
