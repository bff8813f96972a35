"""The Python reference for GET /predict: FastAPI + uvicorn + onnxruntime on the same model.

Written the way one would write it for production speed in Python: the session and its
metadata loaded once per worker process, query parameters validated by FastAPI/pydantic,
the model's features computed in plain Python (no DataFrame), the input arrays built per
request straight in the dtypes the graph takes, an `async def` endpoint (a ~50 us
session.run is cheaper on the event loop than a hop to the thread pool), and the response
handed to Starlette as a ready JSONResponse. No prediction is cached.

The features are those of sql/features/flights.sql (the project's only definition):
  hour        = hour(date)                 0-23, as a string category
  day_of_week = isodow(date)               1 = Monday ... 7 = Sunday, as a string
  distance    = distance                   float32
  origin, destination                      as given
  route       = origin || '-' || destination

Environment: MODEL_FILE (the ONNX file, required), MODEL_NAME (flight_delay),
ORT_THREADS (intra-op threads, 1). The version, label column, threshold and output name
come from the card.json beside the model when there is one (the registry layout).

  uvicorn fastapi_app:app --host 127.0.0.1 --port 8000 --workers 1 --log-level warning
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse

MODEL_FILE = Path(os.environ["MODEL_FILE"])
MODEL_NAME = os.environ.get("MODEL_NAME", "flight_delay")
ORT_THREADS = int(os.environ.get("ORT_THREADS", "1"))


def _card() -> dict[str, Any]:
    card_file = MODEL_FILE.with_name("card.json")
    return json.loads(card_file.read_text()) if card_file.exists() else {}


def _version() -> int:
    # Registry layout: <registry>/<model>/versions/<n>/model.onnx
    try:
        return int(MODEL_FILE.parent.name)
    except ValueError:
        return int(os.environ.get("MODEL_VERSION", "1"))


def _session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    # The same threading as the Node servers: one intra-op thread (by default), no inter-op pool.
    options.intra_op_num_threads = ORT_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(MODEL_FILE), options, providers=["CPUExecutionProvider"])


CARD = _card()
VERSION = _version()
TASK: str = CARD.get("task", "binary")
LABEL_COLUMN: str = CARD.get("labelColumn", "delayed")
THRESHOLD: float = float(CARD.get("decisionThreshold", 0.5))
SESSION = _session()
OUTPUT: str = CARD.get("output", SESSION.get_outputs()[0].name)
OUTPUT_NAMES = [OUTPUT]
INPUT_NAMES = {i.name for i in SESSION.get_inputs()}
EXPECTED_INPUTS = {"hour", "day_of_week", "distance", "origin", "destination", "route"}
if INPUT_NAMES != EXPECTED_INPUTS:
    raise RuntimeError(f"{MODEL_FILE} takes {sorted(INPUT_NAMES)}, not the flights features {sorted(EXPECTED_INPUTS)}")

app = FastAPI(title="flight_delay reference", docs_url=None, redoc_url=None, openapi_url=None)


def _string(value: str) -> np.ndarray:
    # onnxruntime takes string tensors as numpy object arrays, shape [N, 1].
    a = np.empty((1, 1), dtype=object)
    a[0, 0] = value
    return a


@app.get("/predict")
async def predict(
    model: Annotated[str, Query(min_length=1, max_length=64)],
    date: Annotated[datetime, Query(description="scheduled departure, local time, e.g. 2001-03-19T17:45")],
    distance: Annotated[int, Query(description="flight distance in miles")],
    origin: Annotated[str, Query(min_length=1, max_length=64)],
    destination: Annotated[str, Query(min_length=1, max_length=64)],
) -> JSONResponse:
    if model != MODEL_NAME:
        raise HTTPException(status_code=404, detail=f"unknown model '{model}' (this service serves '{MODEL_NAME}')")
    hour = str(date.hour)
    day_of_week = str(date.isoweekday())
    route = f"{origin}-{destination}"
    distance32 = np.array([[distance]], dtype=np.float32)
    feeds = {
        "hour": _string(hour),
        "day_of_week": _string(day_of_week),
        "distance": distance32,
        "origin": _string(origin),
        "destination": _string(destination),
        "route": _string(route),
    }
    probability = float(SESSION.run(OUTPUT_NAMES, feeds)[0][0, 0])
    return JSONResponse(
        {
            "model": MODEL_NAME,
            "version": VERSION,
            "task": TASK,
            "labelColumn": LABEL_COLUMN,
            "probability": probability,
            "label": probability >= THRESHOLD,
            "threshold": THRESHOLD,
            "features": {
                "hour": hour,
                "day_of_week": day_of_week,
                "distance": float(distance32[0, 0]),
                "origin": origin,
                "destination": destination,
                "route": route,
            },
        }
    )
