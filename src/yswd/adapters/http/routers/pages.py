"""Router placeholder: filled in by its issue's work (see the issue notes)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
