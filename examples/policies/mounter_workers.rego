# `mounter.worker_num` at most 32: more only adds contention on the TiKV scan.
package cdcform

max_mounter_workers := 32

deny_mounter_workers contains {"msg": msg, "changefeed": e.id} if {
	some e in input.entries
	n := object.get(e.desired, ["replica_config", "mounter", "worker_num"], 0)
	n > max_mounter_workers
	msg := sprintf("%s: mounter.worker_num is %d, above the limit of %d", [e.id, n, max_mounter_workers])
}
