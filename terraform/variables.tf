# ---- project ---------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project id that holds everything."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project id: 6 to 30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the service, the training job, the image repository and the model bucket."
  type        = string
  default     = "europe-west1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "service_name" {
  description = "Name of the Cloud Run service; the training job is <service_name>-train, revisions <service_name>-<revision_suffix>."
  type        = string
  default     = "digitrun"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,19}[a-z0-9]$", var.service_name))
    error_message = "service_name must be 2 to 21 lower-case letters, digits or hyphens, starting with a letter (it prefixes service account ids, at most 30 long)."
  }
}

# ---- what the pipeline passes on every deploy (.github/workflows/deploy.yml, cloudbuild.yaml)

variable "image" {
  description = "Serving image BY DIGEST: REGION-docker.pkg.dev/PROJECT/REPO/digitrun@sha256:<64 hex>. \"\" (with no model_version) applies everything but the service."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.image == "" || can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[^/@]+/[^/@]+/[^@]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must be an Artifact Registry image by digest (…-docker.pkg.dev/PROJECT/REPO/NAME@sha256:<64 hex>), never a tag."
  }
}

variable "revision_suffix" {
  description = "Short commit SHA: the new revision is named <service_name>-<revision_suffix>. Required with image."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.revision_suffix == "" ? var.image == "" : can(regex("^[a-z0-9]{4,32}$", var.revision_suffix))
    error_message = "revision_suffix must be 4 to 32 lower-case letters or digits (a short commit SHA), and is required when image is set."
  }
}

variable "stable_revision" {
  description = "The revision serving now: `terraform output -raw serving_revision` read before the canary apply; \"\" on the first deploy."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.stable_revision == "" || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.stable_revision))
    error_message = "stable_revision must be \"\" or a revision name such as digitrun-1a2b3c4."
  }
}

variable "candidate_percent" {
  description = "Traffic for the new revision: 0 on apply 1 (canary, reachable at candidate_url), 100 on apply 2 (promotion)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.candidate_percent >= 0 && var.candidate_percent <= 100 && floor(var.candidate_percent) == var.candidate_percent
    error_message = "candidate_percent must be a whole number from 0 to 100."
  }
}

variable "model_version" {
  description = "The model version served, pinned in terraform/model.auto.tfvars (a rollback is a revert). \"\" until the first training run has published one."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.model_version == "" || can(regex("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$", var.model_version))
    error_message = "model_version must be a version id YYYYMMDDTHHMMSSZ-<8 hex> (as `python -m model list` shows), or \"\"."
  }
}

# ---- serving -----------------------------------------------------------------------------

variable "cpu" {
  description = "vCPUs per instance. The function runs one worker per vCPU (WORKERS is set to this)."
  type        = string
  default     = "1"
  nullable    = false

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu must be a whole number of vCPUs Cloud Run offers: 1, 2, 4, 6 or 8."
  }
}

variable "memory" {
  description = "Memory per instance (the second generation environment needs at least 512Mi). Measured: ~120 MB per worker process."
  type        = string
  default     = "512Mi"
  nullable    = false

  validation {
    condition = (
      can(regex("^[0-9]+(Mi|Gi)$", var.memory)) &&
      try(tonumber(regex("^[0-9]+", var.memory)) * (endswith(var.memory, "Gi") ? 1024 : 1) >= 512, false)
    )
    error_message = "memory must be like 512Mi or 2Gi, and at least 512Mi."
  }
}

variable "cpu_idle" {
  description = "true: CPU only while requests are in flight (request-based billing); false: CPU always allocated (needed by the Prometheus sidecar)."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = !(var.cpu_idle && var.prometheus_sidecar)
    error_message = "The Prometheus sidecar scrapes between requests: set cpu_idle = false with prometheus_sidecar = true."
  }
}

variable "concurrency_per_cpu" {
  description = "Requests in flight per vCPU (per worker); the instance's concurrency is this times cpu. See service.tf for how it was sized."
  type        = number
  default     = 16
  nullable    = false

  validation {
    condition     = var.concurrency_per_cpu >= 1 && var.concurrency_per_cpu <= 125 && floor(var.concurrency_per_cpu) == var.concurrency_per_cpu
    error_message = "concurrency_per_cpu must be a whole number from 1 to 125 (Cloud Run allows at most 1000 per instance)."
  }
}

variable "min_instances" {
  description = "Instances kept warm (0 scales to zero; 1 removes cold starts for ~1 s start-up at an always-on cost)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.min_instances >= 0 && floor(var.min_instances) == var.min_instances
    error_message = "min_instances must be a whole number, 0 or more."
  }
}

variable "max_instances" {
  description = "Cap on instances (and so on cost): at the measured ~3,000 req/s per vCPU, 10 instances of 1 vCPU serve ~30,000 req/s."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be a whole number from 1 to 100 (raise the cap here deliberately, not by accident)."
  }

  validation {
    condition     = var.max_instances >= var.min_instances
    error_message = "max_instances must be at least min_instances."
  }
}

variable "request_timeout_seconds" {
  description = "Request timeout: the longest batch (1,024 images) takes well under a second, so a stuck request is cut early."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.request_timeout_seconds >= 1 && var.request_timeout_seconds <= 3600 && floor(var.request_timeout_seconds) == var.request_timeout_seconds
    error_message = "request_timeout_seconds must be a whole number from 1 to 3600."
  }
}

variable "log_level" {
  description = "The function's LOG_LEVEL."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the service and the training job (set false, apply, then destroy)."
  type        = bool
  default     = true
  nullable    = false
}

variable "public_access" {
  description = "true: anyone may call the service (the Cloud Run invoker IAM check is disabled); false: only invoker_members and the deployer, with an ID token."
  type        = bool
  default     = true
  nullable    = false
}

variable "invoker_members" {
  description = "Who may call a private service (public_access = false), e.g. [\"user:me@example.com\", \"group:team@example.com\"]."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|group|serviceAccount|domain):[^ ]+$", m))])
    error_message = "invoker_members must be IAM members (user:, group:, serviceAccount: or domain:); allUsers is what public_access is for."
  }
}

# ---- Managed Service for Prometheus sidecar ----------------------------------------------

variable "prometheus_sidecar" {
  description = "Run the Managed Service for Prometheus sidecar, scraping the function's /metrics on metrics_port (not public)."
  type        = bool
  default     = false
  nullable    = false
}

variable "prometheus_sidecar_image" {
  description = "The sidecar image, pinned to a version (or a digest)."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
  nullable    = false

  validation {
    condition     = can(regex("(:[0-9]+\\.[0-9]+\\.[0-9]+|@sha256:[0-9a-f]{64})$", var.prometheus_sidecar_image))
    error_message = "prometheus_sidecar_image must be pinned to a version tag (x.y.z) or a digest."
  }
}

variable "metrics_port" {
  description = "METRICS_PORT: where the function serves /metrics for the sidecar (never the serving port 8080)."
  type        = number
  default     = 9091
  nullable    = false

  validation {
    condition     = var.metrics_port >= 1024 && var.metrics_port <= 65535 && var.metrics_port != 8080
    error_message = "metrics_port must be from 1024 to 65535 and not 8080."
  }
}

variable "metrics_scrape_interval" {
  description = "How often the sidecar scrapes /metrics."
  type        = string
  default     = "30s"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+s$", var.metrics_scrape_interval))
    error_message = "metrics_scrape_interval must be seconds, like 30s."
  }
}

# ---- storage and images ------------------------------------------------------------------

variable "model_bucket_name" {
  description = "Name of the model bucket; \"\" means <project_id>-digitrun-models."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.model_bucket_name == "" || can(regex("^[a-z0-9][-_a-z0-9]{1,61}[a-z0-9]$", var.model_bucket_name))
    error_message = "model_bucket_name must be 3 to 63 lower-case letters, digits, hyphens or underscores."
  }
}

variable "noncurrent_model_days" {
  description = "Days a replaced or deleted model object is kept (versioning) before it is deleted for good."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.noncurrent_model_days >= 1 && floor(var.noncurrent_model_days) == var.noncurrent_model_days
    error_message = "noncurrent_model_days must be a whole number, 1 or more."
  }
}

variable "repository_id" {
  description = "Artifact Registry repository holding the images (digitrun, and the training image)."
  type        = string
  default     = "digitrun"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.repository_id))
    error_message = "repository_id must be lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "keep_images" {
  description = "Most recent image versions kept per image name by the cleanup policy, whatever their age: the rollback image survives."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.keep_images >= 2 && var.keep_images <= 100 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number from 2 to 100 (at least the serving image and the one before it)."
  }
}

variable "image_retention_days" {
  description = "Image versions older than this are deleted, except the keep_images most recent."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.image_retention_days >= 1 && floor(var.image_retention_days) == var.image_retention_days
    error_message = "image_retention_days must be a whole number, 1 or more."
  }
}

variable "state_bucket" {
  description = "The Terraform state bucket (terraform/README.md creates it): the deployer gets object access to it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][-_.a-z0-9]{1,220}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be a bucket name."
  }
}

# ---- training job ------------------------------------------------------------------------

variable "train_arch" {
  description = "Architecture the training job trains (`python -m model train --arch`)."
  type        = string
  default     = "cnn"
  nullable    = false

  validation {
    condition     = contains(["mlp", "cnn"], var.train_arch)
    error_message = "train_arch must be mlp or cnn."
  }
}

variable "train_cpu" {
  description = "vCPUs of the training job's task."
  type        = string
  default     = "4"
  nullable    = false

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.train_cpu)
    error_message = "train_cpu must be 1, 2, 4, 6 or 8."
  }
}

variable "train_memory" {
  description = "Memory of the training job's task."
  type        = string
  default     = "8Gi"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.train_memory))
    error_message = "train_memory must be like 4096Mi or 8Gi."
  }
}

variable "train_timeout_seconds" {
  description = "Longest a training run may take before Cloud Run stops it."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.train_timeout_seconds >= 60 && var.train_timeout_seconds <= 86400 && floor(var.train_timeout_seconds) == var.train_timeout_seconds
    error_message = "train_timeout_seconds must be a whole number from 60 to 86400."
  }
}

variable "mlflow_tracking_uri" {
  description = "Your MLflow tracking server for the training runs; \"\" keeps each run's store with the published version."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.mlflow_tracking_uri == "" || can(regex("^(https?|gs)://", var.mlflow_tracking_uri))
    error_message = "mlflow_tracking_uri must be an http(s):// or gs:// URI, or \"\"."
  }
}

# ---- GitHub Actions (Workload Identity Federation) and Cloud Build -------------------------

variable "github_repository" {
  description = "The GitHub repository allowed to deploy, as OWNER/REPO."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/REPO."
  }
}

variable "github_repository_id" {
  description = "The repository's numeric id (`gh api repos/OWNER/REPO --jq .id`): survives renames, and a re-created repository of the same name does not inherit access."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]+$", var.github_repository_id))
    error_message = "github_repository_id must be the repository's numeric id."
  }
}

variable "github_branch" {
  description = "The only branch whose workflows may deploy."
  type        = string
  default     = "main"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+$", var.github_branch)) && !strcontains(var.github_branch, "'")
    error_message = "github_branch must be a plain branch name."
  }
}

variable "wif_pool_id" {
  description = "Id of the Workload Identity pool for GitHub Actions (a deleted pool's id stays taken for 30 days)."
  type        = string
  default     = "github"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][-a-z0-9]{2,30}[a-z0-9]$", var.wif_pool_id)) && !startswith(var.wif_pool_id, "gcp-")
    error_message = "wif_pool_id must be 4 to 32 lower-case letters, digits or hyphens, not starting with gcp-."
  }
}

variable "cloud_build" {
  description = "Also deploy from Cloud Build (cloudbuild.yaml) running as the deployer account: grants it log writing."
  type        = bool
  default     = false
  nullable    = false
}
