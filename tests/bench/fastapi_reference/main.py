"""Seed 000's service as its users run it today, for tests/bench/gateway.sh to measure against:
FastAPI + uvicorn (Debian's python3-fastapi and python3-uvicorn), one process, POST /process
with the seed's dual authentication (API key by query or header, an HS256 JWT with exp) and its
durable log (one JSON line appended to a file and one SQLite row per request, committed).
Written from the seed's description for the benchmark only; it is not part of the product.

Environment: API_KEY, JWT_SECRET, LOG_DIR (default ./logs).
"""
import json
import os
import sqlite3
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Optional

import jwt
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

API_KEY = os.environ["API_KEY"]
JWT_SECRET = os.environ["JWT_SECRET"]
LOG_DIR = os.environ.get("LOG_DIR", "logs")
os.makedirs(LOG_DIR, exist_ok=True)
LOG_FILE = open(os.path.join(LOG_DIR, "requests.log"), "a", encoding="utf-8")
DB = sqlite3.connect(os.path.join(LOG_DIR, "logs.db"), check_same_thread=False)
DB.execute(
    "CREATE TABLE IF NOT EXISTS requests (request_id TEXT PRIMARY KEY, timestamp TEXT, dataset_id TEXT,"
    " action TEXT, status TEXT, duration_ms INTEGER, output TEXT, http_status INTEGER, client TEXT)"
)
DB.commit()
LOG_LOCK = threading.Lock()  # sync endpoints run on uvicorn's thread pool

app = FastAPI(title="process-api")


class ProcessRequest(BaseModel):
    dataset_id: str
    action: str
    payload: Dict[str, Any] = {}


def durable_log(entry: Dict[str, Any]) -> None:
    with LOG_LOCK:
        LOG_FILE.write(json.dumps(entry) + "\n")
        LOG_FILE.flush()
        DB.execute(
            "INSERT INTO requests VALUES (?,?,?,?,?,?,?,?,?)",
            (entry["request_id"], entry["timestamp"], entry["dataset_id"], entry["action"], entry["status"],
             entry["duration_ms"], json.dumps(entry["output"]), entry["http_status"], entry["client"]),
        )
        DB.commit()


def authenticate(api_key_query: Optional[str], api_key_header: Optional[str], authorization: Optional[str]) -> None:
    key = api_key_query or api_key_header
    if not key:
        raise HTTPException(401, "API key required (query param 'api_key' or header 'X-API-Key')")
    if key != API_KEY:
        raise HTTPException(401, "Invalid API key")
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "Missing or invalid Authorization header")
    try:
        jwt.decode(authorization[7:], JWT_SECRET, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError as e:
        raise HTTPException(401, f"Invalid JWT token: {e}")


def run(req: ProcessRequest) -> Dict[str, Any]:
    if req.payload.get("force_fail") is True:
        raise ValueError("forced failure requested: payload.force_fail=true")
    if req.action == "summarize":
        rows = req.payload.get("rows", [])
        return {"summary": f"{len(rows)} records processed", "rows_processed": len(rows), "dataset": req.dataset_id}
    if req.action == "count":
        return {"count": len(req.payload.get("items", [])), "dataset": req.dataset_id}
    if req.action == "validate":
        return {"valid": True, "checks_passed": 3, "dataset": req.dataset_id}
    return {"message": f"action '{req.action}' completed", "dataset": req.dataset_id}


@app.get("/health")
def health():
    return {"status": "healthy"}


@app.post("/process")
def process(body: ProcessRequest, request: Request, api_key: Optional[str] = Query(None),
            x_api_key: Optional[str] = Header(None), authorization: Optional[str] = Header(None)):
    authenticate(api_key, x_api_key, authorization)
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    try:
        output, status, http_status = run(body), "success", 200
    except ValueError as e:
        output, status, http_status = str(e), "failure", 400
    entry = {"timestamp": datetime.now(timezone.utc).isoformat(), "request_id": request_id,
             "dataset_id": body.dataset_id, "action": body.action, "status": status,
             "duration_ms": int((time.monotonic() - started) * 1000), "output": output,
             "http_status": http_status, "client": request.client.host if request.client else ""}
    durable_log(entry)
    if http_status != 200:
        return JSONResponse({"detail": output, "request_id": request_id}, status_code=http_status)
    return {"request_id": request_id, "status": "success", "data": output}
