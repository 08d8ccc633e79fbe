package cdcform_test

import data.cdcform

plan(cluster, action) := {"cluster": {"name": cluster}, "entries": [{"id": "team-a-x", "action": action}]}

test_delete_in_prod_is_denied if {
	count(cdcform.deny_prod_delete) == 1 with input as plan("prod", "delete")
}

test_replace_in_prod_eu_is_denied if {
	count(cdcform.deny_prod_delete) == 1 with input as plan("prod-eu", "replace")
}

test_update_in_prod_passes if {
	count(cdcform.deny_prod_delete) == 0 with input as plan("prod", "update")
}

test_delete_in_staging_passes if {
	count(cdcform.deny_prod_delete) == 0 with input as plan("staging", "delete")
}

test_no_cluster_name_passes if {
	count(cdcform.deny_prod_delete) == 0 with input as {"cluster": {"name": null}, "entries": [{"id": "x", "action": "delete"}]}
}
