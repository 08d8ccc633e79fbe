# No filter change that stops replicating a table. When the plan knows the table impact
# (`entries[].tables.removed`), that decides; otherwise a filter rule removed, or a `!` rule
# added, counts as stopping tables.
package cdcform

# [id, rules before, rules after] of each filter change whose table impact is not known.
filter_changes contains [e.id, before, after] if {
	some e in input.entries
	not e.tables
	some c in e.changes
	c.path == "replica_config.filter.rules"
	before := {r | some r in object.get(c, "before", [])}
	after := {r | some r in object.get(c, "after", [])}
}

deny_filter_stops_tables contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	removed := object.get(e, ["tables", "removed"], [])
	count(removed) > 0
	msg := sprintf("%s: the filter change stops replicating %d table(s): %v", [e.id, count(removed), removed])
}

deny_filter_stops_tables contains {"msg": msg, "changefeed": id} if {
	some [id, before, after] in filter_changes
	gone := before - after
	count(gone) > 0
	msg := sprintf("%s: the filter change removes rule(s) %v, which stops replicating their tables", [id, sort(gone)])
}

deny_filter_stops_tables contains {"msg": msg, "changefeed": id} if {
	some [id, before, after] in filter_changes
	negations := {r | some r in after - before; startswith(r, "!")}
	count(negations) > 0
	msg := sprintf("%s: the filter change adds exclusion(s) %v, which stops replicating their tables", [id, sort(negations)])
}
