# Workload Identity Federation for GitHub Actions: a workflow run exchanges its OIDC token
# for the deployer account's credentials. No service-account key exists anywhere.
resource "google_iam_workload_identity_pool" "github" {
  workload_identity_pool_id = var.wif_pool_id
  display_name              = "GitHub Actions"
  description               = "Workflows of ${var.github_repository} on ${var.github_branch}"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  #checkov:skip=CKV_GCP_125:The check only accepts a literal assertion.sub match; this condition pins assertion.repository_id, assertion.repository and assertion.ref instead (stricter: sub changes with a job's environment, ref does not), see the comment below.
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-actions"
  display_name                       = "GitHub Actions OIDC"

  attribute_mapping = {
    "google.subject"          = "assertion.sub"
    "attribute.repository"    = "assertion.repository"
    "attribute.repository_id" = "assertion.repository_id"
    "attribute.ref"           = "assertion.ref"
  }

  # Only this repository (by immutable numeric id, and by name) and only its deploy branch.
  # The branch is matched on `ref`, not `sub`: a job with `environment:` gets
  # sub = repo:OWNER/REPO:environment:NAME, while `ref` stays refs/heads/<branch>. Pull
  # requests (refs/pull/...), tags and other branches get no token.
  attribute_condition = join(" && ", [
    "assertion.repository_id == '${var.github_repository_id}'",
    "assertion.repository == '${var.github_repository}'",
    "assertion.ref == 'refs/heads/${var.github_branch}'",
    "assertion.ref_type == 'branch'",
  ])

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

# Identities from the pool may act as the deployer only if they come from the repository
# (the provider's condition already limits them to its deploy branch).
resource "google_service_account_iam_member" "github_deploys" {
  service_account_id = google_service_account.deployer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository_id/${var.github_repository_id}"
}
