# The key that signs prediction ids (the function's FEEDBACK_SECRET): one secret for every
# instance and revision, so feedback that reaches another instance than the one that
# predicted still counts. Terraform makes the secret; its value is added once, out of band,
# so it never sits in the Terraform state (terraform/README.md, step 2):
#   openssl rand -hex 32 | gcloud secrets versions add digitrun-feedback-secret --data-file=-
resource "google_secret_manager_secret" "feedback" {
  secret_id = "${var.service_name}-feedback-secret"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_feedback" {
  secret_id = google_secret_manager_secret.feedback.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

# The deployer refreshes the secret's metadata; it never reads the value.
resource "google_secret_manager_secret_iam_member" "deployer_views_feedback" {
  secret_id = google_secret_manager_secret.feedback.id
  role      = "roles/secretmanager.viewer"
  member    = google_service_account.deployer.member
}
