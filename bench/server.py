"""The servers the HTTP benchmarks talk to, each run by uvicorn in its own process.

    python -m bench.server yswd PORT   # the real yswd app on $YSWD_DATA_DIR, plus
                                       # /bench/static: precomputed JSON, same server
    python -m bench.server bare PORT   # a bare FastAPI route doing the raw save

Both use the same uvicorn settings (one process, default thread pool, no access log),
and both freeze the objects alive at startup out of the collector's passes.
"""

from __future__ import annotations

import gc
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

from bench.common import Ticket, raw_app

STATIC: dict[str, bytes] = {}


def add_bench_routes(app: FastAPI) -> None:
    @app.get("/bench/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.put("/bench/static/{name}")
    async def put_static(name: str, request: Request) -> dict[str, int]:
        STATIC[name] = await request.body()
        return {"bytes": len(STATIC[name])}

    @app.get("/bench/static/{name}")
    def get_static(name: str) -> Response:
        return Response(STATIC[name], media_type="application/json")


class ItemBody(BaseModel):
    forum_id: str = Field(min_length=1, max_length=64)
    channel: str
    raised_on: date
    title: str = Field(min_length=1, max_length=200)
    you_said: str = Field(min_length=1, max_length=10_000)
    themes: list[str] = Field(default_factory=list, max_length=20)


def bare_app(data_dir: Path) -> FastAPI:
    app = FastAPI()
    store = raw_app(data_dir)
    add_bench_routes(app)

    @app.post("/raw/items", status_code=201)
    def raise_item(body: ItemBody) -> dict[str, Any]:
        ticket = Ticket(body.title, body.you_said, body.forum_id, body.raised_on.isoformat())
        store.save(ticket)
        return {"id": str(ticket.id), "version": ticket.version}

    return app


def yswd_app() -> FastAPI:
    from yswd.adapters.http.app import create_app
    from yswd.bootstrap import build

    container = build()
    app = create_app(container)
    add_bench_routes(app)

    @app.put("/bench/answer-cache/{max_bytes}")
    def resize_answer_cache(max_bytes: int) -> dict[str, int]:
        """0: every public answer computed afresh (B4's "afresh" series)."""
        container.runner.answers.resize(max_bytes)
        return {"max_bytes": max_bytes}

    return app


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "yswd":
        app = yswd_app()  # freezes its startup objects itself (adapters/http/heap.py)
    else:
        app = bare_app(Path(os.environ["YSWD_DATA_DIR"]))
        # the same for the baseline: its full passes would walk FastAPI's and
        # pydantic's ~100,000 startup objects (70-80 ms, measured) and flatter yswd
        gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
