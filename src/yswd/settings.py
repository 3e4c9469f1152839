"""All configuration, read from ``YSWD_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The service's settings. See the README's Configuration section."""

    model_config = SettingsConfigDict(env_prefix="YSWD_", extra="ignore")

    data_dir: Path = Field(default=Path("./yswd-data"), description="embedded store folder")
    database_url: str | None = Field(default=None, description="PostgreSQL URL for scale-out")
    nats_url: str | None = Field(default=None, description="NATS server for the event relay")
    smtp_url: str | None = Field(
        default=None,
        pattern=r"^smtp://[^/?#\s:]+(:[0-9]{1,5})?/?$",
        description="mail server for the forums' emails (smtp://host:port)",
    )
    mail_from: str = Field(
        default="yswd@localhost",
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="the From address of the forums' emails",
    )
    admin_token: str | None = Field(default=None, description="bootstrap admin's bearer token")
    target_days: int = Field(default=28, ge=1, le=365, description="default response target")
    small_number_threshold: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="public counts from 1 to this minus 1, and figures over fewer items, are null",
    )
    max_body_bytes: int = Field(default=64 * 1024, description="largest JSON body accepted")
    projection_poll_seconds: float = Field(default=0.2, gt=0, description="read model polling")
    run_projections: bool | None = Field(
        default=None,
        description="run projections inside `serve`; default: yes unless a database URL is set",
    )
    gap_box_rate_limit: int = Field(default=5, ge=1, description="suggestions per window")
    gap_box_rate_window_seconds: int = Field(default=60, ge=1)
    log_format: Literal["json", "text"] = Field(
        default="json", description="`json`: one JSON object per line; `text` for humans"
    )
    db_wait_seconds: float = Field(
        default=3.0, gt=0, le=60, description="longest a request waits for a database that is down"
    )
    max_clip_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024, description="largest diary-room clip accepted"
    )
    clips_dir: Path | None = Field(default=None, description="clip store folder (data_dir/clips)")
    glossary_file: Path | None = Field(
        default=None, description="jargon list for the plain-English check (TOML)"
    )
    disclosure_terms_file: Path | None = Field(
        default=None,
        description="wording that suggests harm, abuse, self-harm or a threat (TOML)",
    )
    safeguarding_ack_hours: int = Field(
        default=24, ge=1, le=24 * 14, description="hours to acknowledge a safeguarding flag"
    )
    erasure_log: Path | None = Field(
        default=None,
        description="append-only log of erasures (JSON lines), kept beside the backups",
    )

    organisation_name: str = Field(
        default="You Said, We Did",
        max_length=120,
        description="the organisation named in every page's header",
    )
    organisation_logo_url: str | None = Field(
        default=None,
        description="the organisation's logo in the header (an NHS logo only for NHS bodies)",
    )

    # -- staff sign-in and sessions (issue 15) ------------------------------------------
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="the service's external base URL (feeds, emails, sign-in redirect URIs)",
    )
    secret_key: str | None = Field(
        default=None,
        min_length=32,
        description="signs cookies; the same on every replica (unset: made once and kept)",
    )
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect issuer URL")
    oidc_client_id: str | None = Field(default=None, description="this service's client id")
    oidc_client_secret: str | None = Field(default=None, description="its client secret")
    oidc_client_private_key_file: Path | None = Field(
        default=None, description="PEM or JWK private key for private_key_jwt (NHS CIS2)"
    )
    oidc_client_key_id: str | None = Field(default=None, description="that key's `kid`")
    oidc_required_claims: str = Field(
        default="",
        description="comma-separated ID-token claims that must be true (Entra ID: xms_edov)",
    )
    token_sign_in: bool = Field(default=True, description="the sign-in page accepts a token")
    session_idle_seconds: int = Field(
        default=8 * 3600, ge=1, le=8 * 3600, description="a session unused this long ends"
    )
    session_absolute_seconds: int = Field(
        default=12 * 3600, ge=1, le=12 * 3600, description="a session this old ends"
    )
    sign_in_rate_limit: int = Field(
        default=10, ge=1, description="sign-in attempts per account per window"
    )
    sign_in_address_rate_limit: int = Field(
        default=100, ge=1, description="sign-in attempts per client address per window"
    )
    sign_in_rate_window_seconds: int = Field(default=300, ge=1)
    trusted_proxies: str = Field(
        default="",
        pattern=r"^[0-9A-Fa-f:./, ]*$|^\*$",
        description=(
            "comma-separated addresses or networks of the proxies whose X-Forwarded-For "
            "and X-Forwarded-Proto are believed; empty: none, the peer is the client"
        ),
    )

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def projections_in_process(self) -> bool:
        return self.embedded if self.run_projections is None else self.run_projections
