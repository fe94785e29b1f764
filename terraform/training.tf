# The training job: the Dockerfile's `train` target (ENTRYPOINT `python -m model train`),
# publishing a new version to gs://<model bucket>/models. Terraform owns the job's
# definition (account, resources, arguments, environment); the image is the one thing the
# pipeline sets, right before it runs the job, because it builds a training image only when
# model/ changed: `gcloud run jobs update <service>-train --image ...@sha256:...` then
# `gcloud run jobs execute <service>-train --wait`. Until then the job holds a placeholder
# image and is never run. The version it prints is pinned in model.auto.tfvars by a commit.
resource "google_service_account" "trainer" {
  account_id   = "${var.service_name}-trainer"
  display_name = "digitrun training job"
  description  = "Runs the digitrun training job: publishes new model versions."
}

# Publish new versions, never replace one: objectCreator cannot overwrite or delete, and
# objectViewer lets the job list versions and check that its destination is free.
resource "google_storage_bucket_iam_member" "trainer_publishes_models" {
  for_each = toset(["roles/storage.objectCreator", "roles/storage.objectViewer"])

  bucket = google_storage_bucket.models.name
  role   = each.value
  member = google_service_account.trainer.member
}

resource "google_cloud_run_v2_job" "train" {
  name                = "${var.service_name}-train"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.trainer.email
      timeout         = "${var.train_timeout_seconds}s"
      max_retries     = 0 # a failed run is looked at, not repeated

      containers {
        name  = "train"
        image = local.train_placeholder_image
        args  = ["--arch", var.train_arch, "--publish", "gs://${google_storage_bucket.models.name}/${local.models_prefix}"]

        resources {
          limits = {
            cpu    = var.train_cpu
            memory = var.train_memory
          }
        }

        env {
          name  = "LOG_LEVEL"
          value = "INFO"
        }
        dynamic "env" {
          for_each = var.mlflow_tracking_uri != "" ? [var.mlflow_tracking_uri] : []
          content {
            name  = "MLFLOW_TRACKING_URI"
            value = env.value
          }
        }
      }
    }
  }

  lifecycle {
    # Set by the pipeline (see above); gcloud also records itself as the job's client.
    ignore_changes = [
      template[0].template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_storage_bucket_iam_member.trainer_publishes_models]
}
