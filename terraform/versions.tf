terraform {
  # 1.6+: validation blocks may reference other variables; 6.x: the provider generation these
  # arguments were written against (aws_region.region, per-resource region).
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
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
