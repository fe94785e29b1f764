# Who may call the service when it is private (public_access = false): invoker_members,
# and the deployer, whose smoke test calls the candidate URL with an ID token. A public
# service needs no binding: access.tf never grants allUsers (see service.tf).
locals {
  invokers = var.public_access ? [] : distinct(concat(var.invoker_members, ["serviceAccount:${local.deployer_email}"]))
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = local.deploy_service ? toset(local.invokers) : toset([])

  name     = google_cloud_run_v2_service.service[0].name
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value
}
