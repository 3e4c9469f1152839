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
    admin_token: str | None = Field(default=None, description="bootstrap admin's bearer token")
    target_days: int = Field(default=28, ge=1, le=365, description="default response target")
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
    erasure_log: Path | None = Field(
        default=None,
        description="append-only log of erasures (JSON lines), kept beside the backups",
    )

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def projections_in_process(self) -> bool:
        return self.embedded if self.run_projections is None else self.run_projections
