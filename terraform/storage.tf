# The model bucket: published versions under models/<version>/ (model.keras, model.tflite,
# manifest.json), written by the training job, mounted read-only by the service.
resource "google_storage_bucket" "models" {
  #checkov:skip=CKV_GCP_62:Access to the bucket is recorded by Cloud Audit Logs (admin activity always, data access when enabled for the project); legacy usage logs would need a second bucket and duplicate them.
  name     = local.model_bucket
  location = var.region

  # A version is immutable once published: keep objects private, IAM-only and recoverable.
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # An overwritten or deleted object stays recoverable for noncurrent_model_days, then goes.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_model_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }
}
