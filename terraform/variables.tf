variable "aws_region" {
  description = "AWS region to deploy into. sa-east-1 (Sao Paulo) keeps the data next to B3; any region with Glue, Athena, Step Functions and EventBridge Scheduler works."
  type        = string
  default     = "sa-east-1"

  # The state machine's service integration ARNs are written for the aws partition
  # (arn:aws:states:::...), so GovCloud (us-gov-*), China (cn-*) and the other partitions
  # are refused here. At most 14 characters (ap-southeast-N): the bucket name counts on it.
  validation {
    condition     = can(regex("^[a-z]{2}-[a-z]{4,9}-[0-9]$", var.aws_region)) && !startswith(var.aws_region, "cn-")
    error_message = "aws_region must be a region of the standard aws partition, like sa-east-1 (GovCloud and China regions are not supported)."
  }
}

variable "project" {
  description = "Name prefix of every resource (lowercase letters, digits and hyphens)."
  type        = string
  default     = "b3-quotes"

  # The default bucket name is <project>-lake-<12-digit account>-<region up to 14>: S3 allows
  # 63 characters, which leaves 30 for the project, and refuses names starting xn--, sthree-
  # or amzn-s3-demo-.
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,28}[a-z0-9]$", var.project)) && !startswith(var.project, "xn--") && !startswith(var.project, "sthree-") && !startswith(var.project, "amzn-s3-demo-")
    error_message = "project must be 3-30 characters of lowercase letters, digits and hyphens, starting with a letter and ending with a letter or digit, and must not start with xn--, sthree- or amzn-s3-demo- (the lake bucket name is built from it)."
  }
}

variable "tags" {
  description = "Extra tags added to every resource (merged into the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "bucket_name" {
  description = "Name of the lake bucket. Empty: <project>-lake-<account id>-<region>, which is globally unique."
  type        = string
  default     = ""

  # Amazon S3, "General purpose bucket naming rules", one validation per rule family:
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
  validation {
    condition     = var.bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit."
  }

  validation {
    condition     = !strcontains(var.bucket_name, "..")
    error_message = "bucket_name must not contain two adjacent periods (S3 refuses it)."
  }

  validation {
    condition     = !can(regex("^[0-9]{1,3}([.][0-9]{1,3}){3}$", var.bucket_name))
    error_message = "bucket_name must not be formatted as an IP address, like 192.168.5.4 (S3 refuses it)."
  }

  validation {
    condition     = !startswith(var.bucket_name, "xn--") && !startswith(var.bucket_name, "sthree-") && !startswith(var.bucket_name, "amzn-s3-demo-")
    error_message = "bucket_name must not start with xn--, sthree- or amzn-s3-demo- (prefixes S3 reserves)."
  }

  validation {
    condition     = !endswith(var.bucket_name, "-s3alias") && !endswith(var.bucket_name, "--ol-s3") && !endswith(var.bucket_name, ".mrap") && !endswith(var.bucket_name, "--x-s3") && !endswith(var.bucket_name, "--table-s3")
    error_message = "bucket_name must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (suffixes S3 reserves for access points, Multi-Region Access Points, directory and table buckets)."
  }
}

variable "tickers" {
  description = "B3 tickers the schedule scrapes every weekday, and every run that names none (the state machine's default)."
  type        = list(string)
  default     = ["PETR4"]

  # The same rule as the code's (b3pipeline.tickers.B3_SYMBOL_PATTERN; tests/infra keeps the two
  # regexes equal): a symbol the scraper would refuse fails here, at plan, not at 19:00.
  validation {
    condition     = length(var.tickers) > 0 && alltrue([for t in var.tickers : can(regex("^[A-Z][A-Z0-9]{3}[0-9]{1,2}F?$", t))])
    error_message = "tickers must be a non-empty list of upper-case B3 symbols: four letters or digits starting with a letter, then the class (one or two digits), optionally F for the fractional market, such as PETR4, VALE3, BOVA11 or PETR4F."
  }

  # The state machine refuses more (b3pipeline.batch_output.MAX_RUN_TICKERS: every batch's
  # output must fit Step Functions' 256 KiB state payload).
  validation {
    condition     = length(var.tickers) <= 2000
    error_message = "tickers may list at most 2000 symbols (the state machine's limit for one run)."
  }
}

variable "scrape_batch_size" {
  description = "Tickers per scraper invocation in the state machine's fan-out (the default of settings.scrape_batch_size). 50 at BRAPI_CONCURRENCY 8 and 300 ms an answer is about 2 s, far below the scraper's timeout."
  type        = number
  default     = 50

  validation {
    condition     = var.scrape_batch_size >= 1 && var.scrape_batch_size <= 100 && floor(var.scrape_batch_size) == var.scrape_batch_size
    error_message = "scrape_batch_size must be a whole number from 1 to 100."
  }

  # The state machine refuses more than 100 batches (b3pipeline.batch_output.MAX_BATCHES:
  # Batches Within Limit?): tickers and batch size that make more would fail every run.
  validation {
    condition     = var.scrape_batch_size < 1 || ceil(length(var.tickers) / var.scrape_batch_size) <= 100
    error_message = "tickers in batches of scrape_batch_size make more than 100 batches, the state machine's limit for one run: raise scrape_batch_size."
  }
}

variable "scrape_max_concurrency" {
  description = "Scraper invocations the fan-out runs at once (the default of settings.scrape_max_concurrency, the Map's MaxConcurrency): BRAPI sees this many times brapi_concurrency requests at once."
  type        = number
  default     = 2

  # An inline Map runs at most 40 iterations at once (Step Functions, "Using Map state in
  # Inline mode").
  validation {
    condition     = var.scrape_max_concurrency >= 1 && var.scrape_max_concurrency <= 40 && floor(var.scrape_max_concurrency) == var.scrape_max_concurrency
    error_message = "scrape_max_concurrency must be a whole number from 1 to 40."
  }

  # More invocations at once than the scraper may run are throttled (retried, then failed).
  validation {
    condition     = var.scraper_reserved_concurrency == -1 || var.scrape_max_concurrency <= var.scraper_reserved_concurrency
    error_message = "scrape_max_concurrency must not exceed scraper_reserved_concurrency (when that is reserved): the extra invocations would be throttled."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression of the daily run, evaluated in schedule_timezone. Default: weekdays 19:00, after B3's closing call and after-market."
  type        = string
  default     = "cron(0 19 ? * MON-FRI *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a cron(...) or rate(...) expression."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule expression is evaluated in (B3's own zone by default, so daylight saving changes need no edit)."
  type        = string
  default     = "America/Sao_Paulo"

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z_+-]+)*$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone name such as America/Sao_Paulo."
  }
}

variable "schedule_enabled" {
  description = "Whether the daily schedule is ENABLED. false keeps it deployed but DISABLED (manual runs only)."
  type        = bool
  default     = true
}

variable "pandas_layer_arn" {
  description = "ARN of the AWS SDK for pandas managed layer for python3.12 x86_64 in aws_region (AWSSDKPandas-Python312), which brings pandas and pyarrow to the scraper. The version number differs per region: see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:AWSSDKPandas-Python312:[0-9]+$", var.pandas_layer_arn))
    error_message = "pandas_layer_arn must be an AWSSDKPandas-Python312 (x86_64) layer version ARN, e.g. arn:aws:lambda:sa-east-1:336392948345:layer:AWSSDKPandas-Python312:<version>."
  }

  # Lambda refuses a layer from another region only at apply ("layers must be in the same
  # region as the function"): refuse it at plan instead.
  validation {
    condition     = try(split(":", var.pandas_layer_arn)[3], "") == var.aws_region
    error_message = "pandas_layer_arn must be the layer of aws_region: its 4th field is the region (arn:aws:lambda:<aws_region>:336392948345:layer:AWSSDKPandas-Python312:<version>); take that region's ARN from https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html."
  }
}

variable "brapi_base_url" {
  description = "Base URL of the BRAPI API (BRAPI_BASE_URL)."
  type        = string
  default     = "https://brapi.dev"

  validation {
    condition     = can(regex("^https://", var.brapi_base_url))
    error_message = "brapi_base_url must be an https:// URL."
  }
}

variable "brapi_concurrency" {
  description = "BRAPI requests the scraper runs at once (BRAPI_CONCURRENCY). BRAPI documents no concurrency limit, only each plan's monthly quota; 429s are retried after their Retry-After."
  type        = number
  default     = 8

  validation {
    condition     = var.brapi_concurrency >= 1 && var.brapi_concurrency <= 64 && floor(var.brapi_concurrency) == var.brapi_concurrency
    error_message = "brapi_concurrency must be a whole number from 1 to 64."
  }
}

variable "brapi_tickers_per_request" {
  description = "Tickers one BRAPI request asks for, comma-separated (BRAPI_TICKERS_PER_REQUEST). The free plan takes 1; raise it only as far as the BRAPI plan allows."
  type        = number
  default     = 1

  validation {
    condition     = var.brapi_tickers_per_request >= 1 && var.brapi_tickers_per_request <= 100 && floor(var.brapi_tickers_per_request) == var.brapi_tickers_per_request
    error_message = "brapi_tickers_per_request must be a whole number from 1 to 100."
  }
}

variable "max_failed_ticker_share" {
  description = "Share of a scrape's tickers that may fail (unknown to BRAPI, bad bars) and be set aside before the scrape stops early (B3_MAX_FAILED_TICKER_SHARE); 0 stops at the first failure."
  type        = number
  default     = 0.1

  validation {
    condition     = var.max_failed_ticker_share >= 0 && var.max_failed_ticker_share <= 1
    error_message = "max_failed_ticker_share must be a number from 0 to 1."
  }
}

variable "brapi_token_parameter_name" {
  description = "Name of an SSM SecureString parameter holding the BRAPI token, created outside Terraform so the token never lands in state (see docs/deploy.md). Empty: no token (PETR4, VALE3, MGLU3 and ITUB4 answer without one) and no SSM permission."
  type        = string
  default     = ""

  validation {
    condition     = var.brapi_token_parameter_name == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.brapi_token_parameter_name))
    error_message = "brapi_token_parameter_name must be empty or a fully qualified SSM parameter name starting with '/'."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of both Lambda functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group this module creates (the Lambdas, the state machine, the Glue job's output and error logs)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "scraper_timeout_seconds" {
  description = "Timeout of one scraper invocation: one batch of scrape_batch_size tickers (50 at brapi_concurrency 8 and 300 ms an answer: ~2 s), or the merge of the batches' outputs; the margin covers BRAPI's retries with backoff and a 429's Retry-After."
  type        = number
  default     = 120

  validation {
    condition     = var.scraper_timeout_seconds >= 10 && var.scraper_timeout_seconds <= 900
    error_message = "scraper_timeout_seconds must be between 10 and 900."
  }
}

variable "scraper_memory_mb" {
  description = "Memory of the scraper Lambda (pandas/pyarrow import needs ~250 MB; a batch of 100 tickers' bars is a few MB more; more memory also means more CPU)."
  type        = number
  default     = 512

  validation {
    condition     = var.scraper_memory_mb >= 256 && var.scraper_memory_mb <= 10240
    error_message = "scraper_memory_mb must be between 256 and 10240."
  }
}

variable "scraper_reserved_concurrency" {
  description = "Reserved concurrency of the scraper. -1 (default): none, it runs from the account's shared pool. 1 lets at most one scrape run at a time, so a run started by hand during the scheduled one cannot spend the BRAPI plan's quota twice; reserving needs an account whose Lambda concurrency quota leaves 100 unreserved after it (new accounts start at 10: see docs/deploy.md)."
  type        = number
  default     = -1

  validation {
    condition     = var.scraper_reserved_concurrency == -1 || var.scraper_reserved_concurrency >= 1
    error_message = "scraper_reserved_concurrency must be -1 (unreserved) or at least 1."
  }
}

variable "trigger_reserved_concurrency" {
  description = "Reserved concurrency of the S3 trigger: a number caps how many executions a burst of dropped manifests starts at once. -1 (default): none (see scraper_reserved_concurrency for when an account can reserve)."
  type        = number
  default     = -1

  validation {
    condition     = var.trigger_reserved_concurrency == -1 || var.trigger_reserved_concurrency >= 1
    error_message = "trigger_reserved_concurrency must be -1 (unreserved) or at least 1."
  }
}

variable "glue_database" {
  description = "Glue Data Catalog database holding raw_quotes, quotes_daily and quotes_monthly (the name sql/*.sql queries)."
  type        = string
  default     = "b3_lake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.glue_database))
    error_message = "glue_database must be lowercase letters, digits and underscores, starting with a letter."
  }
}

variable "glue_job_timeout_minutes" {
  description = "Timeout of the Glue transform job run, in minutes (a daily run takes a few; a full backfill of many tickers longer)."
  type        = number
  default     = 30

  validation {
    condition     = var.glue_job_timeout_minutes >= 1 && var.glue_job_timeout_minutes <= 2880
    error_message = "glue_job_timeout_minutes must be between 1 and 2880."
  }
}

variable "glue_worker_type" {
  description = "Worker type of the Glue Spark job: G.1X (1 DPU: 4 vCPU, 16 GB), G.2X (2 DPU), G.4X (4 DPU) or G.8X (8 DPU). FLEX runs accept G.1X and G.2X only."
  type        = string
  default     = "G.1X"

  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.glue_worker_type)
    error_message = "glue_worker_type must be G.1X, G.2X, G.4X or G.8X."
  }
}

variable "glue_number_of_workers" {
  description = "Workers of the Glue Spark job, the driver's included (2 = one driver + one executor). One task per ticker: more workers run more tickers at once."
  type        = number
  default     = 2

  validation {
    condition     = var.glue_number_of_workers >= 2 && var.glue_number_of_workers <= 100 && floor(var.glue_number_of_workers) == var.glue_number_of_workers
    error_message = "glue_number_of_workers must be a whole number from 2 (one driver, one executor) to 100."
  }
}

variable "glue_execution_class" {
  description = "FLEX (spare capacity, 34% cheaper per DPU-hour, may wait up to ~15-20 minutes to start: fine for an after-close batch) or STANDARD (dedicated capacity, starts at once): see docs/deploy.md's cost section."
  type        = string
  default     = "FLEX"

  validation {
    condition     = contains(["STANDARD", "FLEX"], var.glue_execution_class)
    error_message = "glue_execution_class must be STANDARD or FLEX."
  }
}

variable "glue_job_metrics" {
  description = "Publish the Glue job's job metrics and observability metrics to CloudWatch (--enable-metrics, --enable-observability-metrics). Off by default: they are CloudWatch custom metrics, dozens a run, billed per metric-hour past CloudWatch's free tier (an estimated $0.02-0.05 a run, more than the job itself). Turn on while tuning the job; the job run's own page in the Glue console needs none of them."
  type        = bool
  default     = false
}

variable "athena_bytes_scanned_cutoff" {
  description = "Bytes a single query in the workgroup may scan before Athena cancels it (minimum 10 MB). The daily quality query scans a few MB."
  type        = number
  default     = 1073741824

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "athena_results_expiration_days" {
  description = "Days after which Athena query results under athena-results/ are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_expiration_days >= 1
    error_message = "athena_results_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced (noncurrent) object version is kept. Reruns rewrite whole Parquet files, so old versions are only an undo window."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "quality_statement_name" {
  description = "Name of the Athena prepared statement made from sql/quality_check.sql; the state machine runs EXECUTE <name>."
  type        = string
  default     = "quality_check"

  # Athena's CreatePreparedStatement StatementName (botocore's athena model): 1-256 characters
  # matching [a-zA-Z_][a-zA-Z0-9_@:]{1,256}, so at least two; the state machine's EXECUTE
  # takes a plain SQL identifier, so no @ or : here.
  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{1,255}$", var.quality_statement_name))
    error_message = "quality_statement_name must be a SQL identifier of 2 to 256 letters, digits and underscores, not starting with a digit (Athena refuses a one-character statement name)."
  }
}

variable "sfn_log_level" {
  description = "Step Functions execution log level (ALL, ERROR, FATAL). ALL costs cents at one run a day and shows every state's input and output."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL"], var.sfn_log_level)
    error_message = "sfn_log_level must be ALL, ERROR or FATAL."
  }
}

variable "alert_email" {
  description = "E-mail address subscribed to the failure topic (AWS sends a confirmation mail first). Empty: no subscription."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an e-mail address."
  }
}
