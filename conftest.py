"""Settings for every test in the repository."""

from hypothesis import HealthCheck, settings

# Speed is measured by the benchmarks, not by tests: a property test must not fail because the
# machine is busy (CI runs on 2 cores beside a Kafka broker and a database).
settings.register_profile("ilrflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ilrflow")
