terraform {
  # 1.9+: a variable's validation may refer to another variable (pandas_layer_arn checks its
  # region against aws_region). `terraform test` with mock providers needs 1.7+ anyway.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Both major versions: nothing here exists in only one of them (the offline checks run
      # on 5.100, a new deployment locks the newest 6.x; docs/adr/0006-terraform-checked-offline.md).
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(
      {
        Project   = var.project
        ManagedBy = "terraform"
        Repo      = "b3-quotes-pipeline"
      },
      var.tags,
    )
  }
}
