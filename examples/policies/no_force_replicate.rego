# No `force_replicate`: tables without a valid index would be replicated with possible duplicates.
package cdcform

deny_force_replicate contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	object.get(e.desired, ["replica_config", "force_replicate"], false) == true
	msg := sprintf("%s: force_replicate is not allowed (tables without a primary or unique key replicate with duplicates)", [e.id])
}
