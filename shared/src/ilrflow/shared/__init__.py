"""ilrflow's common package: what every service shares (contracts, wiring, rules)."""
