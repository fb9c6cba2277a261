# Athena: a workgroup that enforces where results go, how they are encrypted and how much a
# query may scan; the quality check as a prepared statement; every sql/*.sql as a named query.

resource "aws_athena_workgroup" "pipeline" {
  name          = local.workgroup_name
  description   = "B3 quotes pipeline: quality check and analytics over ${var.glue_database}."
  force_destroy = true # its only contents are the named queries and prepared statement below

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.lake.bucket}/${local.athena_results_prefix}"

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}

# The state machine runs `EXECUTE <name> USING ?, ?, ?` with the run's window and tickers.
resource "aws_athena_prepared_statement" "quality_check" {
  name            = var.quality_statement_name
  description     = "Data quality violations of one run (sql/quality_check.sql); passes when total_violations = 0."
  workgroup       = aws_athena_workgroup.pipeline.name
  query_statement = file("${path.module}/../sql/quality_check.sql")
}

# One saved query per sql/*.sql, so a new file shows up in the console after the next apply.
resource "aws_athena_named_query" "sql" {
  for_each = fileset(local.sql_dir, "*.sql")

  name        = trimsuffix(each.value, ".sql")
  description = "sql/${each.value} from the repository."
  workgroup   = aws_athena_workgroup.pipeline.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${local.sql_dir}/${each.value}")
}
