# Changefeed ids follow `team-<team>-<name>`, so that ownership is visible in every tool.
# A delete is always allowed: it is how a badly named changefeed goes away.
package cdcform

deny_id_prefix contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	e.action != "delete"
	not regex.match(`^team-[a-z0-9]+-[a-z0-9-]+$`, e.id)
	msg := sprintf("%s: changefeed ids must look like team-<team>-<name>", [e.id])
}
