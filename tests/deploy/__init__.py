"""Delivery checks run offline: Terraform, the provider schema, checkov, the workflows, the
image. Tools come from `make deploy-tools`; a missing one fails its tests, naming it."""
