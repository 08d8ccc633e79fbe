package cdcform_test

import data.cdcform

with_force(v) := {"entries": [{"id": "team-a-x", "desired": {"replica_config": {"force_replicate": v}}}]}

test_force_replicate_is_denied if {
	count(cdcform.deny_force_replicate) == 1 with input as with_force(true)
}

test_force_replicate_false_passes if {
	count(cdcform.deny_force_replicate) == 0 with input as with_force(false)
}

test_no_replica_config_passes if {
	count(cdcform.deny_force_replicate) == 0 with input as {"entries": [{"id": "team-a-x", "desired": {"replica_config": null}}]}
}
