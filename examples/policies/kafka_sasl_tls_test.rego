package cdcform_test

import data.cdcform

kafka(query, config) := {"entries": [{
	"id": "team-a-orders",
	"action": "create",
	"desired": {
		"state": "running",
		"sink": {"scheme": "kafka", "query": query},
		"replica_config": config,
	},
}]}

test_sasl_and_tls_in_the_uri_pass if {
	count(cdcform.deny_kafka_sasl_tls) == 0 with input as kafka({"sasl-mechanism": "SCRAM-SHA-512", "enable-tls": "true"}, null)
}

test_sasl_and_tls_in_kafka_config_pass if {
	cfg := {"sink": {"kafka_config": {"sasl_mechanism": "PLAIN", "enable_tls": true}}}
	count(cdcform.deny_kafka_sasl_tls) == 0 with input as kafka({}, cfg)
}

test_plain_kafka_is_denied_twice if {
	count(cdcform.deny_kafka_sasl_tls) == 2 with input as kafka({"protocol": "canal-json"}, null)
}

test_tls_without_sasl_is_denied if {
	denials := cdcform.deny_kafka_sasl_tls with input as kafka({"enable-tls": "true"}, null)
	count(denials) == 1
	some d in denials
	contains(d.msg, "SASL")
}

test_other_sinks_are_not_checked if {
	inp := {"entries": [{"id": "x", "desired": {"state": "running", "sink": {"scheme": "mysql", "query": {}}}}]}
	count(cdcform.deny_kafka_sasl_tls) == 0 with input as inp
}
