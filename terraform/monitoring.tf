# Failure notifications, one per failure. The state machine publishes every failure its
# Catch and Choice paths see from its Notify Failure state, and then ends in a B3Pipeline.*
# error. What that state cannot see reaches the same topic another way:
# - an execution that FAILED with any other error (States.Runtime, States.DataLimitExceeded,
#   a Map failing outside its Catch) or with B3Pipeline.NotifyFailed (Notify Failure could
#   not publish): the EventBridge rule below, on Step Functions' own status-change event;
# - an execution that TIMED_OUT or was ABORTED (never through Notify Failure): two alarms;
# - messages parked in either dead-letter queue: two alarms.
# No alarm on ExecutionsFailed: it counts the failures Notify Failure has already sent, and
# every caught failure would mail twice.

resource "aws_sns_topic" "failures" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key needs a key policy for CloudWatch; messages carry execution ARNs and error names only.
  name = "${var.project}-failures"
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.failures.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

locals {
  execution_alarms = {
    timed-out = "ExecutionsTimedOut"
    aborted   = "ExecutionsAborted"
  }

  dlq_alarms = {
    trigger-failures = aws_sqs_queue.trigger_failures.name
    schedule-dlq     = aws_sqs_queue.schedule_dlq.name
  }
}

resource "aws_cloudwatch_metric_alarm" "executions" {
  for_each = local.execution_alarms

  alarm_name          = "${local.state_machine_name}-${each.key}"
  alarm_description   = "At least one ${local.state_machine_name} execution ended ${each.key} in the last 5 minutes. Open the execution in the Step Functions console."
  namespace           = "AWS/States"
  metric_name         = each.value
  dimensions          = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failures.arn]
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = local.dlq_alarms

  alarm_name          = "${var.project}-${each.key}-not-empty"
  alarm_description   = "Messages wait in ${each.value}: a run could not be started. Read them in the SQS console, fix the cause, then start the run by hand."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failures.arn]
}

# Step Functions sends "Step Functions Execution Status Change" events to the default bus for
# every standard execution; the event's detail is DescribeExecution's, error included ("Step
# Functions Execution Status Change" events: https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
# The pattern (failed_without_alert.pattern.json) takes the FAILED executions of this state
# machine whose error Notify Failure has not sent: any error not starting with B3Pipeline.,
# and B3Pipeline.NotifyFailed. An event without an error, or with a null one, matches too: a
# duplicate mail rather than none. Matchers in one array are ORed ("Content filtering in
# Amazon EventBridge event patterns": anything-but with prefix, exists, null;
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html).
resource "aws_cloudwatch_event_rule" "failed_without_alert" {
  name        = "${local.state_machine_name}-failed-without-alert"
  description = "${local.state_machine_name} executions that FAILED without the pipeline's own alert (an error its Catch cannot see, or the alert could not be sent)."
  event_pattern = templatefile("${path.module}/failed_without_alert.pattern.json", {
    state_machine_arn = aws_sfn_state_machine.pipeline.arn
  })
}

# EventBridge puts the input template's values in as they are, unescaped ("Transforming
# Amazon EventBridge target input", common issues): only the execution's name, ARN and error,
# which hold no quotes, go into the mail; its cause is one click or command away.
resource "aws_cloudwatch_event_target" "failed_without_alert" {
  rule      = aws_cloudwatch_event_rule.failed_without_alert.name
  target_id = "failure-topic"
  arn       = aws_sns_topic.failures.arn

  input_transformer {
    input_paths = {
      execution = "$.detail.executionArn"
      name      = "$.detail.name"
      error     = "$.detail.error"
    }
    input_template = "\"B3 quotes pipeline: execution <name> FAILED with <error>, a failure the pipeline could not alert on itself (an error its Catch cannot see, or its own alert could not be sent). Read the cause in the Step Functions console, or: aws stepfunctions describe-execution --execution-arn <execution>\""
  }

  depends_on = [aws_sns_topic_policy.failures]
}

# A topic policy replaces the topic's default one, so its first statement is that default
# (the account's principals, CloudWatch alarms included, may publish and manage the topic;
# the state machine's role publishes through its own policy as well). The second lets this
# one EventBridge rule publish: aws:SourceArn is the rule's ARN ("Cross-service confused
# deputy prevention in Amazon EventBridge":
# https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html).
data "aws_iam_policy_document" "failures_topic" {
  statement {
    sid = "AccountDefault"
    actions = [
      "SNS:GetTopicAttributes",
      "SNS:SetTopicAttributes",
      "SNS:AddPermission",
      "SNS:RemovePermission",
      "SNS:DeleteTopic",
      "SNS:Subscribe",
      "SNS:ListSubscriptionsByTopic",
      "SNS:Publish",
    ]
    resources = [aws_sns_topic.failures.arn]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceOwner"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "FailedWithoutAlertRule"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.failures.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.failed_without_alert.arn]
    }
  }
}

resource "aws_sns_topic_policy" "failures" {
  arn    = aws_sns_topic.failures.arn
  policy = data.aws_iam_policy_document.failures_topic.json
}

# The rule's deliveries that failed (the topic refused EventBridge, say): CloudWatch alarms
# publish under the default statement, so this one still arrives.
resource "aws_cloudwatch_metric_alarm" "failed_without_alert_undelivered" {
  alarm_name          = "${aws_cloudwatch_event_rule.failed_without_alert.name}-undelivered"
  alarm_description   = "EventBridge could not deliver a ${local.state_machine_name} failure to the topic: list the failed executions in the Step Functions console, and check the topic policy's FailedWithoutAlertRule statement."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.failed_without_alert.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failures.arn]
}
