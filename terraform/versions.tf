# Terraform >= 1.11 (validations may reference other variables, as the scaling and sidecar
# checks do, since 1.9). The google provider is held to the 6.x line from 6.50: 6.50.0 is the
# schema tests/deploy checks every resource, block and argument against offline (the last
# one published as @cdktf/provider-google), so what is checked is what runs. The 7.0 and 8.0
# upgrade guides change nothing this configuration uses; moving to 8.x is a one-line change
# here followed by an online `terraform init -upgrade && terraform validate`.
terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
  }

  # Partial configuration: `terraform init -backend-config="bucket=<state bucket>"
  # -backend-config="prefix=digitrun"` (terraform/README.md creates the bucket).
  backend "gcs" {}
}
