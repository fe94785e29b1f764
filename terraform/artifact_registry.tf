# Docker repository for the serving image (digitrun) and the training image. Tags are
# immutable: a tag always names the same digest, and deploys use digests anyway.
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images hold open code and no secrets or data; Google-managed encryption at rest covers them, and a KMS key would add cost and a way to lose every image (key destruction) without reducing who can read them.
  repository_id = var.repository_id
  location      = var.region
  format        = "DOCKER"
  description   = "digitrun serving and training images"

  docker_config {
    immutable_tags = true
  }

  # Cleanup deletes versions older than image_retention_days, but KEEP wins over DELETE:
  # the keep_images most recent versions of each image survive whatever their age, so the
  # previous (rollback) image is always there.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_images
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.image_retention_days * 86400}s"
    }
  }
}
