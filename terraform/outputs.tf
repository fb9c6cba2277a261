output "aws_region" {
  description = "Region of every resource: pass it to every aws command (--region \"$(terraform -chdir=terraform output -raw aws_region)\")."
  value       = local.region
}

output "tickers" {
  description = "Tickers the schedule scrapes (the default of b3pipeline aws run --tickers)."
  value       = var.tickers
}

output "lake_bucket" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.lake.bucket
}

output "lake_uri" {
  description = "LAKE_URI of the deployed pipeline."
  value       = local.lake_uri
}

output "state_machine_arn" {
  description = "ARN of the pipeline state machine (aws stepfunctions start-execution --state-machine-arn ...)."
  value       = aws_sfn_state_machine.pipeline.arn
}

output "state_machine_console_url" {
  description = "The state machine in the Step Functions console."
  value       = "https://${local.region}.console.aws.amazon.com/states/home?region=${local.region}#/statemachines/view/${aws_sfn_state_machine.pipeline.arn}"
}

output "scraper_function_name" {
  description = "Name of the scraper Lambda."
  value       = aws_lambda_function.scraper.function_name
}

output "trigger_function_name" {
  description = "Name of the S3 trigger Lambda."
  value       = aws_lambda_function.trigger.function_name
}

output "glue_job_name" {
  description = "Name of the Glue 5.1 Spark transform job."
  value       = aws_glue_job.transform.name
}

output "glue_job_log_groups" {
  description = "Log groups of the Glue job: output (the script's log) and error (Spark's and Glue's)."
  value       = { for kind, group in aws_cloudwatch_log_group.glue_job : kind => group.name }
}

output "crawler_name" {
  description = "Name of the Glue crawler."
  value       = aws_glue_crawler.lake.name
}

output "glue_database" {
  description = "Glue Data Catalog database of the lake tables."
  value       = aws_glue_catalog_database.lake.name
}

output "athena_workgroup" {
  description = "Athena workgroup to run sql/*.sql in."
  value       = aws_athena_workgroup.pipeline.name
}

output "failure_topic_arn" {
  description = "SNS topic that receives failure notifications."
  value       = aws_sns_topic.failures.arn
}

output "schedule_name" {
  description = "EventBridge Scheduler schedule of the daily run."
  value       = aws_scheduler_schedule.daily.name
}
