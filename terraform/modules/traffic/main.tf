locals {
  revision_type = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"

  # Nothing else can serve on a first deploy, and a candidate equal to the stable revision
  # (the same commit applied again) already serves: in both cases it takes everything.
  only_candidate = var.stable_revision == "" || var.stable_revision == var.candidate_revision
  percent        = local.only_candidate ? 100 : var.candidate_percent

  candidate = {
    type     = local.revision_type
    revision = var.candidate_revision
    percent  = local.percent
    tag      = var.candidate_tag
  }
  # The stable revision keeps what the candidate does not take; it needs no tag (the
  # service URL reaches it). Dropped once the candidate has everything.
  stable = {
    type     = local.revision_type
    revision = var.stable_revision
    percent  = 100 - local.percent
    tag      = null
  }
  targets = local.percent == 100 ? [local.candidate] : [local.stable, local.candidate]

  # The next deploy's stable revision: the one with most traffic (a tie stays with stable).
  serving_revision = local.percent > 50 ? var.candidate_revision : var.stable_revision
}
