package cdcform_test

import data.cdcform

rules_change(before, after) := {"entries": [{"id": "team-a-x", "action": "update", "changes": [{
	"path": "replica_config.filter.rules",
	"kind": "manifest",
	"before": before,
	"after": after,
}]}]}

test_adding_a_rule_passes if {
	count(cdcform.deny_filter_stops_tables) == 0 with input as rules_change(["shop.*"], ["shop.*", "pay.*"])
}

test_removing_a_rule_is_denied if {
	count(cdcform.deny_filter_stops_tables) == 1 with input as rules_change(["shop.*", "pay.*"], ["shop.*"])
}

test_adding_an_exclusion_is_denied if {
	count(cdcform.deny_filter_stops_tables) == 1 with input as rules_change(["shop.*"], ["shop.*", "!shop.audit"])
}

test_table_impact_decides_when_known if {
	inp := {"entries": [{"id": "team-a-x", "action": "update", "changes": [], "tables": {"removed": ["shop.audit"], "added": []}}]}
	count(cdcform.deny_filter_stops_tables) == 1 with input as inp
}

test_table_impact_without_removals_passes if {
	inp := {"entries": [{"id": "team-a-x", "action": "update", "tables": {"removed": [], "added": ["pay.orders"]}, "changes": [{
		"path": "replica_config.filter.rules", "before": ["shop.*", "pay.*"], "after": ["*.*"],
	}]}]}
	count(cdcform.deny_filter_stops_tables) == 0 with input as inp
}
