locals {
  # The service exists once there is an image to run and a pinned model to serve. A first
  # `terraform apply` without them creates everything else (bucket, repository, accounts,
  # Workload Identity Federation, the training job).
  deploy_service = var.image != "" && var.model_version != ""

  # Google's public sample job image: what the training job holds until the pipeline sets
  # the training image it built (training.tf). Never run.
  train_placeholder_image = "us-docker.pkg.dev/cloudrun/container/job:latest"

  revision_name = join("-", compact([var.service_name, var.revision_suffix]))
  candidate_tag = "candidate"

  model_bucket      = var.model_bucket_name != "" ? var.model_bucket_name : "${var.project_id}-digitrun-models"
  models_prefix     = "models" # versions live at gs://<bucket>/models/<version>
  models_mount_path = "/mnt/models"
  model_uri         = "${local.models_mount_path}/${local.models_prefix}/${var.model_version}"

  container_name = "digitrun"
  container_port = 8080

  # Known before the account exists, so it can key IAM bindings at plan time.
  deployer_account_id = "${var.service_name}-deployer"
  deployer_email      = "${local.deployer_account_id}@${var.project_id}.iam.gserviceaccount.com"
}
