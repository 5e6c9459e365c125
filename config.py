"""Settings from the environment, in one place (the shape of full-stack-fastapi-template's core/config.py).

Temporal connection settings are not here: they follow Temporal's own environment configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_TLS_*, a config.toml), loaded by
``temporalio.envconfig`` in ``temporal_client.py``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


def get_settings() -> Settings:
    return Settings()
