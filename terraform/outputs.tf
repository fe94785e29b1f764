# Read by the pipelines (exact names) and by people. Empty strings, never null, where the
# service or the job does not exist yet, so `terraform output -raw` always works.

output "service_url" {
  description = "The service's public HTTPS URL."
  value       = local.deploy_service ? google_cloud_run_v2_service.service[0].uri : ""
}

output "candidate_url" {
  description = "URL of the revision tagged `candidate` (the one this apply created): the smoke test's target."
  value = local.deploy_service ? try(one([
    for status in google_cloud_run_v2_service.service[0].traffic_statuses : status.uri if status.tag == local.candidate_tag
  ]), "") : ""
}

output "serving_revision" {
  description = "The revision with the most traffic after this apply: the next deploy's stable_revision."
  value       = local.deploy_service ? module.traffic.serving_revision : ""
}

output "latest_revision" {
  description = "The newest ready revision of the service."
  value       = local.deploy_service ? try(basename(google_cloud_run_v2_service.service[0].latest_ready_revision), "") : ""
}

output "model_bucket" {
  description = "The model bucket; versions are published under gs://<bucket>/models/."
  value       = google_storage_bucket.models.name
}

output "image_repository" {
  description = "Where the pipeline pushes images: <region>-docker.pkg.dev/<project>/<repository> (images digitrun, and the training image)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "wif_provider" {
  description = "Workload Identity provider for google-github-actions/auth (`workload_identity_provider`)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "deployer_service_account" {
  description = "The deployer account's email (`service_account` for google-github-actions/auth, Cloud Build's serviceAccount)."
  value       = google_service_account.deployer.email
}

output "runtime_service_account" {
  description = "The account the service runs as."
  value       = google_service_account.runtime.email
}

output "training_job" {
  description = "The training job (`gcloud run jobs update <name> --image ...` then `gcloud run jobs execute <name> --wait`)."
  value       = google_cloud_run_v2_job.train.name
}

output "feedback_secret" {
  description = "The secret holding FEEDBACK_SECRET (add its value once: terraform/README.md, step 2)."
  value       = google_secret_manager_secret.feedback.secret_id
}
