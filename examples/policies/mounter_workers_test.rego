package cdcform_test

import data.cdcform

workers(n) := {"entries": [{"id": "team-a-x", "desired": {"replica_config": {"mounter": {"worker_num": n}}}}]}

test_32_workers_pass if {
	count(cdcform.deny_mounter_workers) == 0 with input as workers(32)
}

test_33_workers_are_denied if {
	count(cdcform.deny_mounter_workers) == 1 with input as workers(33)
}

test_unset_passes if {
	count(cdcform.deny_mounter_workers) == 0 with input as {"entries": [{"id": "team-a-x", "desired": {}}]}
}
