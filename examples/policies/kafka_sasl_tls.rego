# Kafka sinks use SASL and TLS: in the sink URI (`sasl-mechanism`, `enable-tls=true`) or in
# `replica_config.sink.kafka_config` (`sasl_mechanism`, `enable_tls`).
package cdcform

kafka_config(e) := object.get(e.desired, ["replica_config", "sink", "kafka_config"], {})

has_sasl(e) if e.desired.sink.query["sasl-mechanism"] != ""

has_sasl(e) if kafka_config(e).sasl_mechanism != ""

has_tls(e) if e.desired.sink.query["enable-tls"] == "true"

has_tls(e) if kafka_config(e).enable_tls == true

kafka_entries contains e if {
	some e in input.entries
	e.desired.state != "absent"
	e.desired.sink.scheme in {"kafka", "kafka+ssl"}
}

deny_kafka_sasl_tls contains {"msg": msg, "changefeed": e.id} if {
	some e in kafka_entries
	not has_sasl(e)
	msg := sprintf("%s: a Kafka sink must authenticate with SASL (set sasl-mechanism)", [e.id])
}

deny_kafka_sasl_tls contains {"msg": msg, "changefeed": e.id} if {
	some e in kafka_entries
	not has_tls(e)
	msg := sprintf("%s: a Kafka sink must use TLS (set enable-tls=true)", [e.id])
}
