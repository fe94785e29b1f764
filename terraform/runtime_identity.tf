# The identity the service runs as: never the default compute account (which has Editor on
# the project). It may read the model bucket, and nothing else unless the Prometheus sidecar
# is on.
resource "google_service_account" "runtime" {
  account_id   = "${var.service_name}-runtime"
  display_name = "digitrun Cloud Run service (runtime)"
  description  = "Runs the digitrun service: reads the model bucket, writes metrics when the sidecar is on."
}

resource "google_storage_bucket_iam_member" "runtime_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.runtime.member
}

# Managed Service for Prometheus writes through the runtime account: only with the sidecar.
resource "google_project_iam_member" "runtime_writes_metrics" {
  count = var.prometheus_sidecar ? 1 : 0

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.runtime.member
}
