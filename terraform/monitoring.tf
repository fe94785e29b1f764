# The Prometheus sidecar's scrape configuration (RunMonitoring), which the sidecar reads
# from /etc/rungmp/config.yaml: mounted from Secret Manager, the documented way to give a
# Cloud Run sidecar a file. It names the function's METRICS_PORT: the default would scrape
# the public port 8080.
resource "google_secret_manager_secret" "run_monitoring" {
  count = var.prometheus_sidecar ? 1 : 0

  secret_id = "${var.service_name}-run-monitoring"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "run_monitoring" {
  count = var.prometheus_sidecar ? 1 : 0

  secret = google_secret_manager_secret.run_monitoring[0].id
  secret_data = yamlencode({
    apiVersion = "monitoring.googleapis.com/v1beta"
    kind       = "RunMonitoring"
    metadata   = { name = var.service_name }
    spec = {
      endpoints = [{
        port     = var.metrics_port
        path     = "/metrics"
        interval = var.metrics_scrape_interval
      }]
    }
  })
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_run_monitoring" {
  count = var.prometheus_sidecar ? 1 : 0

  secret_id = google_secret_manager_secret.run_monitoring[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}
