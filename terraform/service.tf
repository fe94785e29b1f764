# The Cloud Run service. Terraform owns all of it (image, revision name, env, probes,
# scaling and traffic): workflows run `terraform apply`, never `gcloud run deploy`.
module "traffic" {
  source = "./modules/traffic"

  stable_revision    = var.stable_revision
  candidate_revision = local.revision_name
  candidate_percent  = var.candidate_percent
  candidate_tag      = local.candidate_tag
}

resource "google_cloud_run_v2_service" "service" {
  count = local.deploy_service ? 1 : 0

  name                = var.service_name
  location            = var.region
  description         = "digitrun: MNIST digits over HTTP (/predict, TF Serving REST, Open Inference Protocol V2)"
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  # Public access is this variable and nothing else (tests/deploy checks that no other
  # public grant exists): true disables the invoker IAM check, which also works where an
  # organization policy forbids allUsers bindings; false leaves access to the invoker
  # bindings in access.tf.
  invoker_iam_disabled = var.public_access

  template {
    # Named revisions: <service>-<short sha>, so the traffic split can name the candidate
    # before it exists and a rollback names a revision.
    revision              = local.revision_name
    service_account       = google_service_account.runtime.email
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2" # the Cloud Storage volume needs gen2
    timeout               = "${var.request_timeout_seconds}s"

    # Concurrency, sized from BENCHMARKS.md ("How cost grows with load"). The service is
    # CPU-bound: each worker runs one LiteRT call per request inline on its event loop, at
    # ~10,000 one-digit requests/s per core (a 256-digit batch: ~1-2 ms of CPU as V2 binary,
    # ~5-6 ms as JSON). One core's throughput is reached at 4 connections; up to 16 its p99
    # keeps the 10 ms promise (~3 ms), beyond that requests only queue. 16 per vCPU is the
    # top of that range: a request also counts while its body uploads and its answer
    # downloads, which costs the event loop nothing, and a burst up to 16 deep waits on this
    # core within the promise (behind 16 batches ~100 ms) instead of on a new instance's
    # cold start; past it Cloud Run adds instances (its default of 80 would let a burst wait
    # five times longer on one core).
    max_instance_request_concurrency = var.concurrency_per_cpu * tonumber(var.cpu)

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    volumes {
      name = "models"
      gcs {
        bucket    = google_storage_bucket.models.name
        read_only = true
      }
    }

    dynamic "volumes" {
      for_each = var.prometheus_sidecar ? [1] : []
      content {
        name = "run-monitoring"
        secret {
          secret = google_secret_manager_secret.run_monitoring[0].secret_id
          items {
            version = google_secret_manager_secret_version.run_monitoring[0].version
            path    = "config.yaml"
          }
        }
      }
    }

    containers {
      name  = local.container_name
      image = var.image

      ports {
        name           = "http1"
        container_port = local.container_port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # Explicit: true bills CPU only while requests run; the sidecar needs false.
        cpu_idle          = var.cpu_idle
        startup_cpu_boost = true
      }

      volume_mounts {
        name       = "models"
        mount_path = local.models_mount_path
      }

      # Only variables the function reads (function/config.py, README); PORT is Cloud Run's.
      env {
        name  = "MODEL_URI"
        value = local.model_uri
      }
      env {
        name  = "WORKERS" # one worker per vCPU: equal to the CPU limit above
        value = var.cpu
      }
      env {
        name  = "LOG_LEVEL"
        value = var.log_level
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT" # log lines carry the request's trace
        value = var.project_id
      }
      env {
        name  = "CLOUD_RUN_TIMEOUT_SECONDS" # gunicorn restarts a worker stuck past the request timeout
        value = tostring(var.request_timeout_seconds)
      }
      env {
        name = "FEEDBACK_SECRET" # signs prediction ids: the same key on every instance
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.feedback.secret_id
            version = "latest"
          }
        }
      }
      env {
        name  = "METRICS" # /metrics only where something scrapes it
        value = tostring(var.prometheus_sidecar)
      }
      dynamic "env" {
        for_each = var.prometheus_sidecar ? [var.metrics_port] : []
        content {
          name  = "METRICS_PORT" # not the serving port: Cloud Run never routes to it
          value = tostring(env.value)
        }
      }

      # Ready once the model is verified and loaded (the server listens only then); the
      # startup probe allows ~60 s for the mount, the checksum and the warm-up.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 2
        timeout_seconds       = 1
        failure_threshold     = 30
        http_get {
          path = "/v2/health/ready"
          port = local.container_port
        }
      }

      liveness_probe {
        period_seconds    = 15
        timeout_seconds   = 2
        failure_threshold = 3
        http_get {
          path = "/v2/health/live"
          port = local.container_port
        }
      }
    }

    # Managed Service for Prometheus: scrapes METRICS_PORT on localhost (RunMonitoring in
    # monitoring.tf) and writes to Cloud Monitoring as the runtime account.
    dynamic "containers" {
      for_each = var.prometheus_sidecar ? [var.prometheus_sidecar_image] : []
      content {
        name       = "prometheus-sidecar"
        image      = containers.value
        depends_on = [local.container_name]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
          cpu_idle = var.cpu_idle
        }

        volume_mounts {
          name       = "run-monitoring"
          mount_path = "/etc/rungmp"
        }
      }
    }
  }

  # The split computed by modules/traffic: the candidate always carries the tag
  # `candidate` (its own URL for the smoke test); 0% on apply 1, 100% on apply 2.
  dynamic "traffic" {
    for_each = module.traffic.targets
    content {
      type     = traffic.value.type
      revision = traffic.value.revision
      percent  = traffic.value.percent
      tag      = traffic.value.tag
    }
  }

  # The runtime account must be able to read what the new revision mounts before it starts.
  depends_on = [
    google_storage_bucket_iam_member.runtime_reads_models,
    google_secret_manager_secret_iam_member.runtime_reads_run_monitoring,
    google_secret_manager_secret_iam_member.runtime_reads_feedback,
  ]
}
