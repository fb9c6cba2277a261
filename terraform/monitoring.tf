# Failure notifications: the state machine publishes to the topic from its Notify Failure
# state; these alarms cover what that state cannot (an execution that fails, times out or is
# aborted outside the Catch path, and messages parked in either dead-letter queue).

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
    failed    = "ExecutionsFailed"
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
