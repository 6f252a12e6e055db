"""shopflow's shared contracts: message envelopes, payloads and row schemas (nothing that runs)."""
