variable "stable_revision" {
  description = "The revision serving now (the previous apply's serving_revision); \"\" on the first deploy."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.stable_revision == "" || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.stable_revision))
    error_message = "stable_revision must be \"\" or a Cloud Run revision name (lower-case letters, digits, hyphens; at most 63)."
  }
}

variable "candidate_revision" {
  description = "The revision this apply creates (<service>-<revision_suffix>); it always carries candidate_tag."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.candidate_revision))
    error_message = "candidate_revision must be a Cloud Run revision name (lower-case letters, digits, hyphens; at most 63)."
  }
}

variable "candidate_percent" {
  description = "Share of traffic for the candidate: 0 on the canary apply, 100 on the promotion. Ignored (100) on a first deploy or when the candidate is already the stable revision."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.candidate_percent >= 0 && var.candidate_percent <= 100 && floor(var.candidate_percent) == var.candidate_percent
    error_message = "candidate_percent must be a whole number from 0 to 100."
  }
}

variable "candidate_tag" {
  description = "Traffic tag of the candidate: Cloud Run serves it at https://<tag>---<service host>."
  type        = string
  default     = "candidate"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,45}[a-z0-9])?$", var.candidate_tag))
    error_message = "candidate_tag must be lower-case letters, digits and hyphens, starting with a letter (at most 47)."
  }
}
