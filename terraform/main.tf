# Root module of the B3 quotes pipeline, split by concern:
#   storage.tf        lake bucket, its policy, lifecycle and the manifest notification
#   functions.tf      scraper and trigger Lambdas, their logs, roles and failure queue
#   glue.tf           job artifacts, catalog database and tables, crawler, transform job
#   athena.tf         workgroup, quality prepared statement, named queries from sql/
#   orchestration.tf  state machine and the weekday schedule
#   monitoring.tf     failure topic and alarms
# Build the artifacts first (`make package`): Terraform reads them from ../build.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = var.aws_region # the provider's region; data.aws_region names it differently in 5.x and 6.x
  partition  = data.aws_partition.current.partition

  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.project}-lake-${local.account_id}-${local.region}"
  lake_uri    = "s3://${aws_s3_bucket.lake.bucket}"

  # Lake layout (DESIGN.md). Manifests and run summaries sit outside every table location.
  raw_quotes_prefix     = "raw/quotes/"
  manifests_prefix      = "raw/_manifests/"
  quotes_daily_prefix   = "refined/quotes_daily/"
  quotes_monthly_prefix = "refined/quotes_monthly/"
  run_summaries_prefix  = "runs/transform/"
  athena_results_prefix = "athena-results/"
  artifacts_prefix      = "artifacts/"

  # What `make package` (scripts/package.py) writes; tests/infra checks these paths exist there.
  build_dir         = "${path.module}/../build"
  scraper_zip       = "${local.build_dir}/scraper.zip"
  trigger_zip       = "${local.build_dir}/trigger.zip"
  glue_script_file  = "${local.build_dir}/glue/transform_job.py"
  core_wheel_name   = "b3pipeline-0.1.0-py3-none-any.whl"
  core_wheel_file   = "${local.build_dir}/${local.core_wheel_name}"
  lambda_handler    = "handler.lambda_handler"
  lambda_runtime    = "python3.12"
  sql_dir           = "${path.module}/../sql"
  quality_sql_file  = "${local.sql_dir}/quality_check.sql"
  statemachine_file = "${path.module}/../statemachine/pipeline.asl.json"

  scraper_name       = "${var.project}-scraper"
  trigger_name       = "${var.project}-trigger"
  glue_job_name      = "${var.project}-transform"
  crawler_name       = "${var.project}-crawler"
  workgroup_name     = "${var.project}-wg"
  state_machine_name = "${var.project}-pipeline"
  # The Glue job's log groups are <this>/output and <this>/error (glue.tf).
  glue_job_log_prefix = "/aws-glue/jobs/${local.glue_job_name}"

  brapi_token_parameter_arn = var.brapi_token_parameter_name == "" ? "" : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.brapi_token_parameter_name}"
}
