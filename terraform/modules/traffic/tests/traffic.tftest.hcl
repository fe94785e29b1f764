# The traffic split of each step of a deploy: `terraform test` in terraform/modules/traffic
# (no provider: runs offline).

variables {
  candidate_revision = "digitrun-b2c3d4e"
}

run "first_deploy_gives_the_candidate_everything" {
  command = apply

  variables {
    stable_revision   = ""
    candidate_percent = 0
  }

  assert {
    condition = jsonencode(output.targets) == jsonencode([{
      type     = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
      revision = "digitrun-b2c3d4e"
      percent  = 100
      tag      = "candidate"
    }])
    error_message = "a first deploy must send 100% to the candidate, tagged: ${jsonencode(output.targets)}"
  }

  assert {
    condition     = output.serving_revision == "digitrun-b2c3d4e"
    error_message = "after a first deploy the candidate is the serving revision, got ${output.serving_revision}"
  }
}

run "canary_at_zero_keeps_stable_serving" {
  command = apply

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 0
  }

  assert {
    condition = jsonencode(output.targets) == jsonencode([
      {
        type     = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
        revision = "digitrun-a1b2c3d"
        percent  = 100
        tag      = null
      },
      {
        type     = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
        revision = "digitrun-b2c3d4e"
        percent  = 0
        tag      = "candidate"
      },
    ])
    error_message = "the canary must keep 100% on stable and 0% on the tagged candidate: ${jsonencode(output.targets)}"
  }

  assert {
    condition     = output.serving_revision == "digitrun-a1b2c3d"
    error_message = "during the canary the stable revision still serves, got ${output.serving_revision}"
  }
}

run "promotion_moves_everything_to_the_candidate" {
  command = apply

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 100
  }

  assert {
    condition = jsonencode(output.targets) == jsonencode([{
      type     = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
      revision = "digitrun-b2c3d4e"
      percent  = 100
      tag      = "candidate"
    }])
    error_message = "promotion must send 100% to the candidate and drop the old revision: ${jsonencode(output.targets)}"
  }

  assert {
    condition     = output.serving_revision == "digitrun-b2c3d4e"
    error_message = "after promotion the candidate serves, got ${output.serving_revision}"
  }
}

run "candidate_equal_to_stable_is_one_target" {
  command = apply

  variables {
    stable_revision   = "digitrun-b2c3d4e"
    candidate_percent = 0
  }

  assert {
    condition = jsonencode(output.targets) == jsonencode([{
      type     = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
      revision = "digitrun-b2c3d4e"
      percent  = 100
      tag      = "candidate"
    }])
    error_message = "re-applying the serving revision must keep it at 100% in one target: ${jsonencode(output.targets)}"
  }
}

run "partial_canary_splits_and_adds_up" {
  command = apply

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 25
  }

  assert {
    condition     = [for t in output.targets : t.percent] == [75, 25]
    error_message = "25% to the candidate leaves 75% on stable: ${jsonencode(output.targets)}"
  }

  assert {
    condition     = sum([for t in output.targets : t.percent]) == 100
    error_message = "traffic percents must add up to 100"
  }

  assert {
    condition     = output.serving_revision == "digitrun-a1b2c3d"
    error_message = "with 25% on the candidate the stable revision serves most"
  }
}

run "tie_stays_with_stable" {
  command = apply

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 50
  }

  assert {
    condition     = output.serving_revision == "digitrun-a1b2c3d"
    error_message = "a 50/50 split names the stable revision as serving"
  }
}

run "percent_over_100_is_refused" {
  command = plan

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 101
  }

  expect_failures = [var.candidate_percent]
}

run "fractional_percent_is_refused" {
  command = plan

  variables {
    stable_revision   = "digitrun-a1b2c3d"
    candidate_percent = 12.5
  }

  expect_failures = [var.candidate_percent]
}

run "bad_revision_name_is_refused" {
  command = plan

  variables {
    stable_revision   = "Digitrun_Old"
    candidate_percent = 0
  }

  expect_failures = [var.stable_revision]
}
