# The deployer: what GitHub Actions (through github_oidc.tf) and optionally Cloud Build run
# `terraform apply` and push images as. Least privilege for that job; every role and why is
# in terraform/README.md ("The deployer's roles"). The first apply, which creates these
# bindings, is made by a project owner.
resource "google_service_account" "deployer" {
  account_id   = local.deployer_account_id
  display_name = "digitrun deployer (CI)"
  description  = "Builds and pushes images and applies terraform/ from CI. No keys: GitHub Actions reach it through Workload Identity Federation."
}

locals {
  # Project-wide roles: Cloud Run itself, and read-only access to what every apply refreshes.
  deployer_project_roles = concat(
    [
      "roles/run.admin",                      # create/update the service and the training job, their traffic and invoker setting, run the job
      "roles/iam.securityReviewer",           # read the IAM policies terraform refreshes (project, bucket, repository, accounts)
      "roles/iam.serviceAccountViewer",       # read the service accounts terraform refreshes
      "roles/iam.workloadIdentityPoolViewer", # read the pool and provider terraform refreshes
    ],
    var.cloud_build ? ["roles/logging.logWriter"] : [], # Cloud Build with a user-specified account writes its logs as it
  )
}

resource "google_project_iam_member" "deployer" {
  for_each = toset(local.deployer_project_roles)

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member
}

# Deploy the service and the job running as their own accounts (actAs), on those two only.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = {
    runtime = google_service_account.runtime.name
    trainer = google_service_account.trainer.name
  }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

# Push images, to this repository only.
resource "google_artifact_registry_repository_iam_member" "deployer_pushes" {
  repository = google_artifact_registry_repository.images.name
  location   = var.region
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.deployer.member
}

# Read and write the Terraform state (and its lock), in the state bucket only.
resource "google_storage_bucket_iam_member" "deployer_state" {
  bucket = var.state_bucket
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}

# Read the model bucket: its metadata (refresh) and the manifests the deploy checks against
# the accuracy floor. No write: only the training job publishes.
resource "google_storage_bucket_iam_member" "deployer_reads_models" {
  for_each = toset(["roles/storage.legacyBucketReader", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.models.name
  role   = each.value
  member = google_service_account.deployer.member
}

# With the sidecar: refresh the scrape configuration secret and its version.
resource "google_secret_manager_secret_iam_member" "deployer_reads_run_monitoring" {
  for_each = var.prometheus_sidecar ? toset(["roles/secretmanager.viewer", "roles/secretmanager.secretAccessor"]) : toset([])

  secret_id = google_secret_manager_secret.run_monitoring[0].id
  role      = each.value
  member    = google_service_account.deployer.member
}
