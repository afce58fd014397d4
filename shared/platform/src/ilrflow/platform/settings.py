"""Every setting of every ilrflow process, read once from the environment (prefix ``ILRFLOW_``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ilrflow.platform.lanes import parse_lanes

DEVELOPMENT_JWT_SECRET = "ilrflow-development-secret-change-me-in-production"

SERVICE_PORTS = {"learner": 8001, "tracker": 8002, "ilr": 8003, "notify": 8004, "audit": 8005}
CONSOLE_PORT = 8000  # the web console, which calls the five services above


class Settings(BaseSettings):
    """Process settings. Each field is the environment variable ``ILRFLOW_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ILRFLOW_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    db_prefix: str = Field(
        default="ilrflow", description="Each service uses the database <db_prefix>_<service>."
    )
    env: Literal["development", "production"] = Field(
        default="development",
        description="'production' accepts only tokens of the OpenID Connect issuer and refuses to "
        "start without one (or with the public development secret); 'development' also accepts "
        "HS256 tokens signed with ILRFLOW_JWT_SECRET.",
    )
    jwt_secret: str = Field(
        default=DEVELOPMENT_JWT_SECRET,
        description="HS256 secret for development bearer tokens; the default is public.",
    )
    jwt_issuer: str = "ilrflow"
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL whose RS256/ES256 tokens are accepted, e.g. "
        "https://sso.example.org/realms/ilrflow; its discovery document names the keys (JWKS).",
    )
    oidc_audience: str = Field(
        default="", description="The audience (aud) a token must carry; required with an issuer."
    )
    oidc_tenant_claim: str = Field(
        default="tenant", description="Claim holding the tenant; a dotted path reads nested claims."
    )
    oidc_roles_claim: str = Field(
        default="roles",
        description="Claim holding the ilrflow roles, e.g. realm_access.roles; other roles in it "
        "are ignored.",
    )
    oidc_groups_claim: str = Field(
        default="groups", description="Claim holding the caller's groups; missing means none."
    )
    oidc_leeway_seconds: float = Field(
        default=30.0, description="Clock skew allowed when checking exp, nbf and iat."
    )
    oidc_jwks_ttl_seconds: float = Field(
        default=300.0,
        description="How long the issuer's keys are used before they are fetched again.",
    )
    oidc_jwks_min_refresh_seconds: float = Field(
        default=10.0,
        description="A token signed with an unknown key fetches the keys again (key rotation), "
        "at most this often.",
    )
    client_token_issuer: str = Field(
        default="http://127.0.0.1:8001",
        description="The learner service's base URL as API clients' tokens name it (iss): it "
        "issues them at /v1/oauth/token and publishes its keys at /.well-known/jwks.json, which "
        "every service fetches to verify them. Empty: no API client token is accepted.",
    )
    client_token_key: str = Field(
        default="",
        description="The learner service: the EC P-256 private key (PEM, PKCS#8) that signs API "
        "clients' tokens (ES256). Empty: in development a key generated at start (tokens stop "
        "working when the learner service restarts); in production no tokens are issued.",
    )
    client_token_ttl_seconds: int = Field(
        default=600, description="How long an API client's access token is valid."
    )
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(
        default=None, description="HTTP port; defaults to the service's own (learner 8001 ...)."
    )
    default_ukprn: int = Field(
        default=10000001, description="UKPRN written into ILR exports when a tenant sets none."
    )
    ilr_reference_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="The ILR service: how old its copy of a tenant's ILR settings and of the OTJ "
        "table may get (another replica's change is seen within this; its own at once).",
    )
    smtp_host: str = Field(
        default="", description="SMTP server for email; empty: emails are not sent."
    )
    smtp_port: int = 25
    smtp_from: str = "ilrflow <no-reply@ilrflow.invalid>"
    smtp_starttls: bool = False
    email_poll_seconds: float = 1.0
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Let webhooks call loopback, private and link-local addresses; off in "
        "production (SSRF), on for local development and tests.",
    )
    webhook_poll_seconds: float = 1.0
    webhook_timeout_seconds: float = Field(
        default=10.0, description="How long one webhook request may take, end to end."
    )
    webhook_retry_first_seconds: float = Field(
        default=30.0,
        description="Delay before the first webhook retry; doubled per retry (capped at one "
        "hour), with jitter.",
    )
    webhook_max_attempts: int = Field(
        default=8, description="Tries of a webhook delivery before it goes to the dead list."
    )
    webhook_tenant_concurrency: int = Field(
        default=4, description="Webhook requests in flight at once per tenant."
    )
    log_level: str = "INFO"
    log_json: bool = True
    topic_partitions: int = 6
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name, e.g. 'staging.': isolates deployments (or "
        "test runs) that share one broker.",
    )
    run_consumers: bool = Field(default=True, description="Run this process's Kafka consumers.")
    run_relay: bool = Field(default=True, description="Run the outbox relay in this process.")
    relay_poll_seconds: float = 0.5
    lanes: str = Field(
        default="pooled",
        description="Comma-separated lanes whose topics this process consumes and whose tenants' "
        "outbox events its relay publishes: 'pooled' (every tenant not promoted) and/or "
        "dedicated lane names, e.g. 'acme'. Audit ingest and email delivery run only where "
        "'pooled' is served.",
    )
    routes_refresh_seconds: float = Field(
        default=1.0, description="How old this process's copy of the routing table may get."
    )
    relay_heartbeat_seconds: float = Field(
        default=2.0, description="How often a relay reports the routing-table version it applies."
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        description="The largest request body any endpoint accepts; a bigger one gets 413.",
    )
    consumer_max_attempts: int = Field(
        default=5, description="Attempts of a transiently failing handler before it is re-read."
    )
    consumer_backoff_seconds: float = 0.2
    consumer_backoff_max_seconds: float = 5.0
    consumer_concurrency: int = Field(
        default=16,
        ge=1,
        description="Per consumer group, how many keys (learners) of a batch are applied at "
        "once; each key's records stay in order.",
    )
    consumer_batch_max_records: int = Field(
        default=200, ge=1, description="The most records a consumer group takes in one batch."
    )
    consumer_batch_wait_ms: int = Field(
        default=500,
        ge=1,
        description="How long an idle consumer's poll waits for records before it polls again "
        "(a record that arrives meanwhile is taken at once: ilrflow.platform.faststream_batches)"
        "; the longer, the less an idle consumer group costs.",
    )
    audit_checkpoint_key: str = Field(
        default="",
        description="Ed25519 key that signs audit checkpoints: a PEM (PKCS#8) private key or the "
        "base64 of its 32-byte seed. Empty: a fixed, public development key (logged as a "
        "warning); production must set its own and keep it out of the audit database.",
    )
    audit_checkpoint_dir: str = Field(
        default="audit-checkpoints",
        description="Directory of the audit checkpoint file (<db_prefix>_audit.checkpoints.jsonl),"
        " outside the audit database; verification reads the latest checkpoints from it.",
    )
    audit_checkpoint_seconds: float = Field(
        default=300.0, description="How often the audit service signs checkpoints; 0: never."
    )
    otel_exporter: Literal["none", "otlp", "console", "file"] = Field(
        default="none",
        description="Where trace spans go: nowhere, an OTLP/HTTP collector, stdout, or a file.",
    )
    otel_endpoint: str = Field(
        default="",
        description="OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces; empty: "
        "the OTEL_EXPORTER_OTLP_* variables or http://localhost:4318/v1/traces.",
    )
    otel_file: str = Field(
        default="spans-{service}.jsonl",
        description="JSON-lines file of the 'file' exporter; {service} is the service's name.",
    )

    web_service_urls: dict[str, str] = Field(
        default_factory=lambda: {n: f"http://127.0.0.1:{p}" for n, p in SERVICE_PORTS.items()},
        description="The web console: each service's base URL, as JSON "
        '(\'{"learner": "http://learner:8001", ...}\').',
    )
    web_session_secret: str = Field(
        default="",
        description="The web console: signs its session cookies. Empty: a random secret per "
        "process (sessions end when it restarts; replicas do not share them).",
    )
    web_dev_sign_in: bool = Field(
        default=False,
        description="The web console: development sign-in (list a tenant's people, sign in as "
        "one with a development token signed with ILRFLOW_JWT_SECRET). Never in production.",
    )
    web_dev_tenant: str = Field(
        default="demo", description="The web console: the tenant its development sign-in lists."
    )
    web_oidc_client_id: str = Field(
        default="",
        description="The web console: its client id at the OpenID Connect issuer "
        "(ILRFLOW_OIDC_ISSUER); set, the console signs people in there (authorization code + "
        "PKCE). Empty: no single sign-on.",
    )
    web_oidc_client_secret: str = Field(
        default="",
        description="The web console: its client secret at the issuer (a confidential client); "
        "empty for a public client, which PKCE alone protects.",
    )

    @property
    def development(self) -> bool:
        return self.env == "development"

    def port_for(self, service: str) -> int:
        return self.http_port or {**SERVICE_PORTS, "web": CONSOLE_PORT}[service]

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"

    @property
    def served_lanes(self) -> tuple[str, ...]:
        return parse_lanes(self.lanes)

    @property
    def platform_database(self) -> str:
        """The deployment's own database (not a service's): the routing table, relay reports."""
        return f"{self.db_prefix}_platform"

    @field_validator("lanes")
    @classmethod
    def _known_lanes(cls, value: str) -> str:
        parse_lanes(value)  # a typo fails at start-up, not at the first event
        return value


ENV_PREFIX = "ILRFLOW_"

# ILRFLOW_* variables read by the tooling around the services (deploy/local/stack.sh, make, the
# test suites), not by a service: a service started from such a shell must not warn about them.
TOOLING_VARIABLES = frozenset(
    {
        "ILRFLOW_STACK_DIR",
        "ILRFLOW_STACK_FRESH",
        "ILRFLOW_STACK_DEADLINE_S",
        "ILRFLOW_STACK_RESTART_DEADLINE_S",
        "ILRFLOW_KEEP_STACK",
        "ILRFLOW_KAFKA_PORT",
        "ILRFLOW_KAFKA_CONTROLLER_PORT",
        "ILRFLOW_MONGO_PORT",
        "ILRFLOW_TEST_PORT_BASE",
        "ILRFLOW_FUZZ_EXAMPLES",
        "ILRFLOW_FAULT_TRACKERS",
        "ILRFLOW_ILR_SCHEMA_DIR",
        "ILRFLOW_KEYCLOAK_PORT",
        "ILRFLOW_KEYCLOAK_JAVA_HOME",
        "ILRFLOW_FERRETDB_BACKEND",  # deploy/local/stack.sh's FerretDB storage; services need not know
    }
)


def setting_variables() -> frozenset[str]:
    """The environment variable of every setting (``ILRFLOW_KAFKA_BOOTSTRAP`` ...)."""
    return frozenset(ENV_PREFIX + name.upper() for name in Settings.model_fields)


def unknown_variables(names: Iterable[str]) -> dict[str, str | None]:
    """The ``ILRFLOW_*`` names that are neither a setting nor a tooling variable, each with the
    setting it most likely meant (or None). Settings ignore unknown variables, so without this a
    misspelt ``ILRFLOW_LOG_LEVLE`` would silently leave the default in place."""
    known = setting_variables()
    unknown = sorted(
        n for n in names if n.startswith(ENV_PREFIX) and n not in known | TOOLING_VARIABLES
    )
    return {n: _closest(n, known) for n in unknown}


def _closest(name: str, known: frozenset[str]) -> str | None:
    # Compared without the shared prefix, or every name would look close to every other.
    suffixes = {k.removeprefix(ENV_PREFIX): k for k in known}
    matches = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), sorted(suffixes), 1, 0.8)
    return suffixes[matches[0]] if matches else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
