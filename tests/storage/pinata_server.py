"""A local stand-in for the part of Pinata's API that `PinataStore` uses.

Content addressing is done by a real kubo node, as Pinata's own nodes do:
`POST /pinning/pinFileToIPFS` adds the uploaded file to kubo with the CID
version from `pinataOptions` (kubo's defaults for that version, as Pinata
applies them), `GET /data/pinList` lists what was pinned, and
`GET /ipfs/{cid}` is the gateway. Requests without the API key headers get
401, like the hosted service.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Form, Header, HTTPException, Query, UploadFile
from fastapi.responses import Response

from scripts.ipfs.node import free_port


def create_app(kubo_api_url: str, api_key: str, secret: str) -> FastAPI:
    app = FastAPI()
    pins: dict[str, int] = {}

    def authorize(key: str | None, secret_key: str | None) -> None:
        if key != api_key or secret_key != secret:
            raise HTTPException(401, "Invalid API key or secret")

    @app.post("/pinning/pinFileToIPFS")
    async def pin_file(
        file: UploadFile,
        pinata_options: str | None = Form(default=None, alias="pinataOptions"),
        pinata_api_key: str | None = Header(default=None, convert_underscores=False),
        pinata_secret_api_key: str | None = Header(default=None, convert_underscores=False),
    ) -> dict[str, object]:
        authorize(pinata_api_key, pinata_secret_api_key)
        options = json.loads(pinata_options) if pinata_options else {}
        data = await file.read()
        async with httpx.AsyncClient(base_url=f"{kubo_api_url}/api/v0/") as kubo:
            answer = await kubo.post(
                "add",
                params={"cid-version": str(options.get("cidVersion", 0)), "pin": "true"},
                files={"file": (file.filename or "blob", data)},
            )
        answer.raise_for_status()
        cid = json.loads(answer.text.strip().splitlines()[-1])["Hash"]
        pins[cid] = len(data)
        return {"IpfsHash": cid, "PinSize": len(data), "Timestamp": "2026-01-01T00:00:00Z"}

    @app.get("/data/pinList")
    async def pin_list(
        hash_contains: str | None = Query(default=None, alias="hashContains"),
        status: str | None = Query(default=None),
        pinata_api_key: str | None = Header(default=None, convert_underscores=False),
        pinata_secret_api_key: str | None = Header(default=None, convert_underscores=False),
    ) -> dict[str, object]:
        authorize(pinata_api_key, pinata_secret_api_key)
        rows = [
            {"ipfs_pin_hash": cid, "size": size, "status": "pinned"}
            for cid, size in pins.items()
            if hash_contains is None or hash_contains in cid
        ]
        return {"count": len(rows), "rows": rows}

    @app.get("/ipfs/{cid}")
    async def gateway(cid: str) -> Response:
        async with httpx.AsyncClient(base_url=f"{kubo_api_url}/api/v0/") as kubo:
            answer = await kubo.post("cat", params={"arg": cid, "offline": "true"})
        if answer.status_code != 200:
            raise HTTPException(404, "not found")
        return Response(answer.content, media_type="application/octet-stream")

    return app


@contextmanager
def running(kubo_api_url: str, api_key: str, secret: str) -> Iterator[str]:
    """Serves the stand-in on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(kubo_api_url, api_key, secret), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the Pinata stand-in did not start")
            threading.Event().wait(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
