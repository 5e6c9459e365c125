"""Settings from the environment, in one place (the shape of full-stack-fastapi-template's core/config.py).

Temporal connection settings are not here: they follow Temporal's own environment configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_TLS_*, a config.toml), loaded by
``temporalio.envconfig`` in ``temporal_client.py``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from encryption import parse_keys
from workflows.contract import DEFAULT_TASK_QUEUE


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
    mail_from: str = "Mentorships <mentorships@localhost>"
    # Domain for Message-IDs; defaults to the domain of MAIL_FROM.
    mail_message_id_domain: str | None = None
    # Links to the caller's own app, e.g. "https://app.example.com/mentorships/{workflow_id}/{action}?as={participant_id}".
    # Placeholders: {workflow_id}, {action} (accept, decline, check_in), {participant_id}.
    mentorship_link_template: str | None = None

    # Payload encryption (encryption.py): "id:base64key,..." with 32-byte keys; the first encrypts, all decrypt.
    # A secret: reprs and logs of the settings show it masked.
    mentorship_encryption_keys: SecretStr | None = None
    # The codec server (codec_server.py) that lets the Temporal UI and CLI show encrypted payloads decoded.
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8081
    # Comma-separated origins allowed to call it from a browser: the Temporal UI's.
    codec_server_cors_origins: str = "http://localhost:8233"
    # When set, callers must send "Authorization: Bearer <token>": decoding reveals personal data.
    codec_server_token: SecretStr | None = None

    @field_validator("mentorship_encryption_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        # Fail at start-up with the reason rather than at the first payload. A malformed value raises
        # encryption.EncryptionError as is, not a ValidationError, which would quote the keys.
        if value is not None:
            parse_keys(value.get_secret_value())
        return value


def get_settings() -> Settings:
    return Settings()
