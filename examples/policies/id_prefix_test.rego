package cdcform_test

import data.cdcform

entry(id, action) := {"entries": [{"id": id, "action": action}]}

test_team_id_passes if {
	count(cdcform.deny_id_prefix) == 0 with input as entry("team-pay-orders", "create")
}

test_other_id_is_denied if {
	count(cdcform.deny_id_prefix) == 1 with input as entry("orders", "create")
}

test_team_without_name_is_denied if {
	count(cdcform.deny_id_prefix) == 1 with input as entry("team-pay", "update")
}

test_validate_entries_without_action_are_checked if {
	count(cdcform.deny_id_prefix) == 1 with input as entry("orders", null)
}

test_delete_of_a_bad_id_passes if {
	count(cdcform.deny_id_prefix) == 0 with input as entry("orders", "delete")
}
