"""Settings from the environment, in one place (the shape of full-stack-fastapi-template's core/config.py).

Temporal connection settings are not here: they follow Temporal's own environment configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_TLS_*, a config.toml), loaded by
``temporalio.envconfig`` in ``infra/temporal.py``.

``Settings`` also owns the values derived from its raw settings (``encryption_keys``, ``api_keys``,
``link_secrets``, ``links_enabled``, ``codec_cors_origins``, ``codec_token``): each comma-separated setting is
split here and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.encryption import EncryptionKey, parse_keys
from infra.quiet_hours import QuietHours
from infra.webhook_endpoints import WebhookEndpoint, parse_endpoints
from workflows.contract import DEFAULT_TASK_QUEUE

Port = Annotated[int, Field(ge=1, le=65535)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _split(text: str) -> list[str]:
    """The entries of a comma-separated setting, stripped, blanks (stray commas) dropped."""
    return [entry.strip() for entry in text.split(",") if entry.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Where the worker polls and the starter sends.
    mentorship_task_queue: str = DEFAULT_TASK_QUEUE

    # Mail. The defaults suit the local sink that `make dev` runs.
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = Field(default=False, description="Implicit TLS from the first byte (usually port 465)")
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS (usually port 587)")
    smtp_timeout_seconds: float = 30.0
    # Connections kept open between sends and reused (0: a new connection for every message).
    smtp_max_idle_connections: int = Field(default=16, ge=0, le=1000)
    mail_from: str = "Mentorships <mentorships@localhost>"
    # Domain for Message-IDs; defaults to the domain of MAIL_FROM.
    mail_message_id_domain: str | None = None
    # Links to the caller's own app, e.g. "https://app.example.com/mentorships/{workflow_id}/{action}?as={participant_id}".
    # Placeholders: {workflow_id}, {action} (accept, decline, check_in), {participant_id}.
    mentorship_link_template: str | None = None
    # Waking hours, e.g. "21:00-08:00": an email that would reach someone inside this window of their local time
    # is held until it ends there (people without a time_zone are never held). Unset: emails go at once.
    mentorship_quiet_hours: str | None = None
    # A folder of email templates that replace the shipped ones (activities/templates/) file by file, e.g.
    # "/etc/mentorships/templates" holding "invitation.subject.txt". Checked when the worker starts
    # (activities/templating.py): an unknown name or a broken template stops it, naming the file and line.
    mentorship_templates_dir: str | None = None

    # Payload encryption (infra/encryption.py): "id:base64key,..." with 32-byte keys; the first encrypts, all decrypt.
    # A secret: reprs and logs of the settings show it masked.
    mentorship_encryption_keys: SecretStr | None = None
    # The codec server (infra/codec_server.py) that lets the Temporal UI and CLI show encrypted payloads decoded.
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8081
    # Comma-separated origins allowed to call it from a browser: the Temporal UI's.
    codec_server_cors_origins: str = "http://localhost:8233"
    # When set, callers must send "Authorization: Bearer <token>": decoding reveals personal data.
    codec_server_token: SecretStr | None = None
    # Comma-separated host names it answers to besides loopback (the name the UI and CLI reach it by).
    codec_server_allowed_hosts: str = ""

    # Worker tuning (worker.build_worker). The defaults are the SDK's own: slots per worker process, so N workers
    # take N times as many at once. Keep activities at or below what the mail relay accepts from one client.
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    # 500: a worker holding 10,000 or more waiting mentorships stays under 300 MiB (BENCHMARKS.md, section 3); an
    # update to one not cached replays its history first, a few milliseconds more.
    worker_max_cached_workflows: int = Field(default=500, ge=0)

    # Observability (infra/observability.py). Both ports are off by default, so that several workers on one machine
    # (make dev, the fault tests) never fight over one; the container image turns them on (Dockerfile).
    # Prometheus text format at http://HOST:PORT/metrics: the SDK's metrics and the service's own counters.
    worker_metrics_port: Port | None = None
    worker_metrics_host: str = "0.0.0.0"
    # GET /livez (the process answers) and /readyz (polling, and Temporal answers); `python worker.py --health`.
    worker_health_port: Port | None = None
    worker_health_host: str = "0.0.0.0"
    # "text" for people, "json" for log pipelines: one object a line, with workflow_id, run_id, activity fields.
    log_format: Literal["text", "json"] = "text"
    log_level: LogLevel = "INFO"
    # OpenTelemetry tracing (temporalio.contrib.opentelemetry), on when an OTLP endpoint is set. The standard
    # variables; spans go to {endpoint}/v1/traces over OTLP/HTTP (protobuf), e.g. http://otel-collector:4318.
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = "http/protobuf"
    otel_service_name: str = "mentorship-worker"

    @field_validator(
        "worker_metrics_port",
        "worker_health_port",
        "otel_exporter_otlp_endpoint",
        "mentorship_templates_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `WORKER_METRICS_PORT=` in a .env file means "off", not "the integer ''".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ports_differ(self) -> Settings:
        if self.worker_metrics_port is not None and self.worker_metrics_port == self.worker_health_port:
            raise self.InvalidSetting(
                f"WORKER_METRICS_PORT and WORKER_HEALTH_PORT are both {self.worker_metrics_port}; they must differ"
            )
        return self

    @field_validator("mentorship_quiet_hours", mode="before")
    @classmethod
    def _quiet_hours_parse(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        QuietHours.parse(str(value))  # a bad window stops the worker at start, saying what is expected
        return str(value).strip()

    @field_validator("mentorship_encryption_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        # Fail at start-up with the reason rather than at the first payload. A malformed value raises
        # infra.encryption.EncryptionError as is, not a ValidationError, which would quote the keys.
        if value is not None:
            parse_keys(value.get_secret_value())
        return value

    # --- Webhooks (infra/webhook_endpoints.py, activities/webhooks.py; README "Webhooks") -------------------
    # Where events go: a JSON list of {"url", "secrets": ["whsec_..."], "events": [types or prefixes]?}; checked at
    # start, each error with its reason. A secret: reprs and logs of the settings show it masked.
    mentorship_webhook_endpoints: SecretStr | None = None
    # Names, addresses and what people wrote, in the events (opt-in); otherwise ids only.
    mentorship_webhook_personal_data: bool = False
    # How long one POST to one endpoint may take (connect, send, the answer's first 4 KiB).
    mentorship_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("mentorship_webhook_endpoints")
    @classmethod
    def _webhook_endpoints_parse(cls, value: SecretStr | None) -> SecretStr | None:
        # A bad value raises infra.webhook_endpoints.WebhookConfigError as is: its message never quotes a secret.
        if value is not None:
            parse_endpoints(value.get_secret_value())
        return value

    # --- HTTP API (api/, `python -m api`) and signed action links in emails (README, "HTTP API") -------------
    # This block belongs to the API; the worker reads MENTORSHIP_API_PUBLIC_URL and MENTORSHIP_LINK_SECRET too
    # (it writes the links into the emails).
    # Bearer keys of the services allowed to call the API, comma-separated (one per calling service, or the old
    # and the new one during a rotation); at least 16 characters each. The API refuses to start without one.
    mentorship_api_keys: SecretStr | None = None
    mentorship_api_host: str = "127.0.0.1"
    mentorship_api_port: int = Field(default=8000, ge=1, le=65535)
    # How long the API waits for Temporal, and through it for a worker, before it answers 504.
    mentorship_api_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # The API's address as people reach it from their mail, e.g. "https://mentorships.example.com". When set,
    # invitation and check-in emails carry signed links to {url}/links/... (instead of MENTORSHIP_LINK_TEMPLATE).
    mentorship_api_public_url: str | None = None
    # Signs those links (HMAC-SHA256); the worker and the API need the same value. At least 32 characters, e.g.
    # `python -c 'import secrets; print(secrets.token_urlsafe(32))'`. Several, comma-separated, to rotate: the
    # first signs, every one is accepted.
    mentorship_link_secret: SecretStr | None = None

    class InvalidSetting(Exception):
        """Not a ValueError: pydantic would quote the input (a key, or every setting) in its ValidationError."""

    @field_validator("mentorship_api_keys", "mentorship_api_public_url", "mentorship_link_secret", mode="before")
    @classmethod
    def _api_empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mentorship_api_keys")
    @classmethod
    def _api_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        # The messages never quote a key.
        if value is not None:
            keys = _split(value.get_secret_value())
            if not keys:
                raise cls.InvalidSetting("MENTORSHIP_API_KEYS names no key")
            for number, key in enumerate(keys, 1):
                if len(key) < 16 or not key.isascii() or not key.isprintable() or " " in key:
                    raise cls.InvalidSetting(
                        f"MENTORSHIP_API_KEYS: key {number} must be at least 16 printable ASCII characters, no spaces"
                    )
        return value

    @field_validator("mentorship_link_secret")
    @classmethod
    def _link_secret_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secrets = _split(value.get_secret_value())
            if not secrets or any(len(secret) < 32 for secret in secrets):
                raise cls.InvalidSetting("MENTORSHIP_LINK_SECRET: every secret must be at least 32 characters")
        return value

    @field_validator("mentorship_api_public_url")
    @classmethod
    def _public_url_parse(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"MENTORSHIP_API_PUBLIC_URL {value!r} is not an http(s) address like https://mentorships.example.com"
            )
        return value

    @model_validator(mode="after")
    def _links_coherent(self) -> Settings:
        if self.mentorship_api_public_url is not None:
            if self.mentorship_link_secret is None:
                raise self.InvalidSetting(
                    "MENTORSHIP_API_PUBLIC_URL is set: set MENTORSHIP_LINK_SECRET too (it signs the links)"
                )
            if self.mentorship_link_template:
                raise self.InvalidSetting(
                    "set MENTORSHIP_LINK_TEMPLATE (links into your app) or MENTORSHIP_API_PUBLIC_URL (signed links "
                    "to this API), not both"
                )
        return self

    # --- end of the HTTP API block ----------------------------------------------------------------------------

    # --- Derived values: every comma-separated setting is split here, and only here -------------------------

    @property
    def encryption_keys(self) -> tuple[EncryptionKey, ...]:
        """MENTORSHIP_ENCRYPTION_KEYS parsed, the encrypting key first; empty when payloads are not encrypted."""
        secret = self.mentorship_encryption_keys
        return parse_keys(secret.get_secret_value()) if secret is not None else ()

    @property
    def quiet_hours(self) -> QuietHours | None:
        """MENTORSHIP_QUIET_HOURS parsed; None when emails go at any hour."""
        return QuietHours.parse(self.mentorship_quiet_hours) if self.mentorship_quiet_hours else None

    @property
    def webhook_endpoints(self) -> tuple[WebhookEndpoint, ...]:
        """MENTORSHIP_WEBHOOK_ENDPOINTS parsed; empty when no event is delivered."""
        secret = self.mentorship_webhook_endpoints
        return parse_endpoints(secret.get_secret_value()) if secret is not None else ()

    @property
    def api_keys(self) -> list[bytes]:
        """The API's bearer keys (MENTORSHIP_API_KEYS); empty when none is set."""
        secret = self.mentorship_api_keys
        return [key.encode() for key in _split(secret.get_secret_value())] if secret is not None else []

    @property
    def link_secrets(self) -> list[bytes]:
        """The configured link secrets (MENTORSHIP_LINK_SECRET), the signing one first; empty when links are off."""
        secret = self.mentorship_link_secret
        return [item.encode() for item in _split(secret.get_secret_value())] if secret is not None else []

    @property
    def links_enabled(self) -> bool:
        """Whether emails carry signed links to the API: a public address and a secret."""
        return bool(self.mentorship_api_public_url and self.link_secrets)

    @property
    def codec_cors_origins(self) -> list[str]:
        """The browser origins allowed to call the codec server (CODEC_SERVER_CORS_ORIGINS)."""
        return _split(self.codec_server_cors_origins)

    @property
    def codec_allowed_hosts(self) -> list[str]:
        """The Host names the codec server answers to: loopback's, its own listening host unless it is a wildcard,
        and CODEC_SERVER_ALLOWED_HOSTS."""
        own = [] if self.codec_server_host in ("", "0.0.0.0", "::") else [self.codec_server_host]
        return ["localhost", "127.0.0.1", "::1", *own, *_split(self.codec_server_allowed_hosts)]

    @property
    def codec_token(self) -> str | None:
        """The bearer token the codec server requires (CODEC_SERVER_TOKEN); None when unset or blank."""
        token = self.codec_server_token.get_secret_value() if self.codec_server_token else ""
        return token or None


def get_settings() -> Settings:
    return Settings()
