# No delete or replace in production: a cluster whose name starts with `prod`.
package cdcform

deny_prod_delete contains {"msg": msg, "changefeed": e.id} if {
	name := object.get(input.cluster, "name", null)
	is_string(name)
	startswith(name, "prod")
	some e in input.entries
	e.action in {"delete", "replace"}
	msg := sprintf("%s: %s is not allowed on cluster %s; do it by hand with a reviewed runbook", [e.id, e.action, name])
}
