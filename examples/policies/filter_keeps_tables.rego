# No filter change that stops replicating a table. When the plan knows the table impact
# (`entries[].tables.removed`), that decides; otherwise a filter rule removed, or a `!` rule
# added, counts as stopping tables.
package cdcform

filter_change(e) := c if {
	some c in e.changes
	c.path == "replica_config.filter.rules"
}

rules_before(e) := {r | some r in object.get(filter_change(e), "before", [])}

rules_after(e) := {r | some r in object.get(filter_change(e), "after", [])}

deny_filter_stops_tables contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	removed := object.get(e, ["tables", "removed"], [])
	count(removed) > 0
	msg := sprintf("%s: the filter change stops replicating %d table(s): %v", [e.id, count(removed), removed])
}

deny_filter_stops_tables contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	not e.tables
	gone := rules_before(e) - rules_after(e)
	count(gone) > 0
	msg := sprintf("%s: the filter change removes rule(s) %v, which stops replicating their tables", [e.id, sort(gone)])
}

deny_filter_stops_tables contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	not e.tables
	negations := {r | some r in rules_after(e) - rules_before(e); startswith(r, "!")}
	count(negations) > 0
	msg := sprintf("%s: the filter change adds exclusion(s) %v, which stops replicating their tables", [e.id, sort(negations)])
}
