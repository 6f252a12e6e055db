"""shopflow's shared contracts: message envelopes, payloads, row schemas, task protocol."""
