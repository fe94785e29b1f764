output "targets" {
  description = "Traffic targets for google_cloud_run_v2_service: objects {type, revision, percent, tag}; percents add up to 100."
  value       = local.targets
}

output "serving_revision" {
  description = "The revision with the most traffic after this apply (ties go to the stable revision)."
  value       = local.serving_revision
}
