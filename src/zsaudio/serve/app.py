"""The FastAPI application: a versioned JSON API and the web page, around one shared classifier.

Routes (the OpenAPI schema is at ``/openapi.json``)::

    GET  /                        the web page (static/index.html; works offline)
    GET  /api/v1/health           {"status": "ok", "version": ...}
    GET  /api/v1/model            the model's method, encoders, temperature, limits
    POST /api/v1/classify         multipart: files (1+), labels, top_k -> classify --json document
    POST /api/v1/spectrogram      multipart: file -> its log-mel spectrogram for drawing
    POST /api/v1/timeline         multipart: file, labels, window, hop, threshold, min_duration,
                                  top_k -> per-window probabilities and events of a long recording

Every refusal is a JSON object ``{"error": message, "status": code}`` with a 4xx status
(unknown routes included); an unexpected failure is a 500 with the same shape and no
traceback. Classification endpoints are plain ``def`` functions, so FastAPI runs them in its
thread pool; :class:`~zsaudio.serve.core.ClassifierService` serialises the classifier itself.

Example
-------
>>> from zsaudio.serve.app import create_app
>>> app = create_app(ZeroShotClassifier.load("model.npz"))         # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from importlib.resources import files as package_files
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zsaudio import __version__
from zsaudio.classifier import ZeroShotClassifier
from zsaudio.serve.core import (
    TIMELINE_MAX_POINTS,
    TIMELINE_MAX_WINDOWS,
    TIMELINE_MIN_HOP,
    ClassifierService,
    ServeError,
    ServeLimits,
    Upload,
    parse_labels,
)
from zsaudio.timeline import DEFAULT_HOP, DEFAULT_MIN_DURATION, DEFAULT_THRESHOLD, DEFAULT_WINDOW

API = "/api/v1"
STATIC_DIR = package_files("zsaudio.serve") / "static"
log = logging.getLogger("zsaudio.serve")


# ------------------------------------------------------------------------------ response models
class PredictionModel(BaseModel):
    label: str
    score: float = Field(description="the method's compatibility score (higher is better)")
    probability: float = Field(description="softmax(scores / temperature) over the request's labels")


class FileResultModel(BaseModel):
    path: str = Field(description="the uploaded file's name as the client sent it (display only)")
    ranking: list[PredictionModel]
    error: str | None = None


class ClassifyResponse(BaseModel):
    """The same document as ``zsaudio classify --json``."""

    model: str
    method: str
    audio_encoder: str
    label_encoder: str
    temperature: float
    labels: list[str]
    top_k: int
    n_files: int
    n_failed: int
    results: list[FileResultModel]


class LimitsModel(BaseModel):
    max_upload_mb: float
    max_labels: int
    max_files: int
    max_label_chars: int
    max_audio_seconds: float


class ModelInfo(BaseModel):
    model: str
    method: str
    audio_encoder: str
    label_encoder: str
    label_template: str | None
    temperature: float
    params: dict[str, Any]
    training_classes: list[str]
    zsaudio_version: str
    model_zsaudio_version: str | None
    timeline: bool = Field(description="whether POST /api/v1/timeline is available")
    limits: LimitsModel


class Health(BaseModel):
    status: str
    version: str


class SpectrogramResponse(BaseModel):
    name: str
    duration_seconds: float
    frame_seconds: float = Field(description="time spanned by one row of values")
    n_mels: int
    f_min_hz: float
    f_max_hz: float
    min: float
    max: float
    values: list[list[float]] = Field(description="rows = time, columns = mel bands (lowest first); "
                                                  "log(mel + 0.01)")


class EventModel(BaseModel):
    onset: float = Field(description="seconds from the start")
    offset: float = Field(description="seconds from the start")
    label: str
    score: float = Field(description="the label's mean probability over the event's windows")


class TimelineResponse(BaseModel):
    """Labels over time in one recording (``ZeroShotClassifier.classify_segments``)."""

    name: str = Field(description="the uploaded file's name as the client sent it (display only)")
    model: str
    method: str
    audio_encoder: str
    label_encoder: str
    temperature: float
    labels: list[str]
    duration_seconds: float = Field(description="seconds of audio decoded")
    window: float = Field(description="analysis window length, seconds")
    hop: float = Field(description="step between window starts, seconds")
    top_k: int = Field(description="labels per point in top_labels (at most the number of labels)")
    settings: dict[str, Any] = Field(description="the event rules used: threshold, min_duration, "
                                                 "max_gap, min_level_db, pooling, encoder")
    error: str | None = Field(default=None, description="why decoding stopped early, if it did (the "
                                                        "windows before it are kept)")
    events: list[EventModel] = Field(description="where each label sounds, in onset order (always "
                                                 "from the full-resolution windows)")
    n_windows: int = Field(description="windows analysed")
    downsampled: bool = Field(description=f"true when there were more than {TIMELINE_MAX_POINTS} "
                                          "windows and consecutive ones were averaged")
    group: int = Field(description="windows averaged into each point (1 when not downsampled)")
    times: list[float] = Field(description="each point's centre, seconds")
    probabilities: list[list[float]] = Field(description="rows = points (as times), columns = labels "
                                                         "(as labels); each row sums to 1")
    level_db: list[float | None] = Field(description="RMS level per point, dBFS (the loudest window "
                                                     "of a group); null for digital silence")
    top_labels: list[list[str]] = Field(description="the top_k most probable labels of each point")


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, for a person")
    status: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": what} for code, what in (
        (400, "no file, empty file, no / too many / duplicate labels, bad top_k; for the timeline "
              "bad window, hop, threshold or min_duration, or too many windows"),
        (413, "request larger than the upload limit, or audio longer than allowed"),
        (415, "a file that is not audio"),
        (422, "audio with NaN samples, no samples or too short; malformed fields"),
    )
}


# ------------------------------------------------------------------------------ body limit
class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a JSON 413, before parsing them.

    A declared ``Content-Length`` over the limit is answered at once; a body sent without one
    is counted as it arrives and stopped at the limit (an HTTPException raised from
    ``receive``, which the app's handler turns into the same JSON answer).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self) -> str:
        return (f"request too large: at most {self.max_bytes / 2**20:.3g} MB per request "
                "(the server's --max-upload-mb)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": self.message(), "status": 413}, status_code=413,
                                    headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise StarletteHTTPException(413, self.message())
            return message

        await self.app(scope, limited_receive, send)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


# ------------------------------------------------------------------------------ the app
def create_app(classifier: ZeroShotClassifier, limits: ServeLimits | None = None,
               model_name: str = "model") -> FastAPI:
    """The web application around one trained classifier, shared by every request.

    Parameters
    ----------
    classifier : ZeroShotClassifier
        Trained (``fit`` or ``load``); the app sets it to in-process extraction without
        progress bars, and checks its encoders against the model file at once.
    limits : ServeLimits, optional
        Upload size, label and file counts, audio length (defaults: 20 MB, 100, 16, 600 s).
    model_name : str, default "model"
        How responses name the model (``zsaudio serve`` passes the model file's path).

    Returns
    -------
    FastAPI
        Serve it with any ASGI server, e.g. ``uvicorn.run(app, host="127.0.0.1", port=8000)``.

    Raises
    ------
    zsaudio.classifier.ModelMismatchError
        The encoders here differ from those the model was trained with.

    Example
    -------
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(ZeroShotClassifier.load("model.npz")))  # doctest: +SKIP
    >>> client.get("/api/v1/health").json()["status"]                         # doctest: +SKIP
    'ok'
    """
    service = ClassifierService(classifier, model_name, limits)
    limits = service.limits
    # No /docs or /redoc: FastAPI's pages for them load their scripts from a CDN, and the
    # server must work offline. The schema itself is served at /openapi.json.
    app = FastAPI(
        docs_url=None,
        redoc_url=None,
        title="zsaudio",
        version=__version__,
        summary="Zero-shot audio classification: rank free-text labels for audio files.",
        description="Upload audio and type candidate labels the model never heard; get the labels "
                    "ranked with scores and calibrated probabilities (the same results as "
                    "`zsaudio classify --json`), or, for a long recording, each label's probability "
                    "over time and the events (`zsaudio classify --segments`). Errors are JSON "
                    "`{\"error\", \"status\"}`.",
    )
    app.state.service = service
    app.add_middleware(BodyLimitMiddleware, max_bytes=limits.max_upload_bytes)

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = (f"no such page or API route: {request.url.path} (the API is under {API}; its "
                       "schema is /openapi.json)")
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /openapi.json)"
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server keeps running")

    def uploads(files: list[UploadFile] | None) -> list[Upload]:
        return [Upload(f.filename, f.file) for f in files or [] if f is not None]

    @app.get(f"{API}/health", response_model=Health, tags=["service"])
    def health() -> dict:
        """The server is up and its model is loaded."""
        return {"status": "ok", "version": __version__}

    @app.get(f"{API}/model", response_model=ModelInfo, tags=["service"])
    def model() -> dict:
        """The model: method, audio and label encoders, temperature, training classes, limits."""
        return service.model_info()

    @app.post(f"{API}/classify", response_model=ClassifyResponse, responses=ERRORS, tags=["classify"])
    def classify(
        files: Annotated[list[UploadFile] | None, File(description="one or more audio files "
                                                       "(wav, flac, ogg, mp3, ...)")] = None,
        labels: Annotated[list[str] | None, Form(description="candidate labels: one per line, or "
                                                 "comma-separated on one line; the field may repeat")] = None,
        top_k: Annotated[int, Form(description="labels returned per file (at most the number of "
                                   "labels)")] = 3,
    ) -> dict:
        """Rank the candidate labels for each file; the same document as `zsaudio classify --json`."""
        return service.classify(uploads(files), parse_labels(labels), top_k)

    @app.post(f"{API}/spectrogram", response_model=SpectrogramResponse, responses=ERRORS,
              tags=["classify"])
    def spectrogram(file: Annotated[UploadFile | None, File(description="one audio file")] = None) -> dict:
        """The file's log-mel spectrogram (64 mel bands, 10 ms frames averaged to at most 400 columns)."""
        found = uploads([file] if file is not None else None)
        if not found:
            raise ServeError(400, "no audio file uploaded: send it in the form field 'file'")
        return service.spectrogram(found[0])

    @app.post(f"{API}/timeline", response_model=TimelineResponse, responses=ERRORS, tags=["classify"])
    def timeline(
        file: Annotated[UploadFile | None, File(description="one audio file (any length up to the "
                                                "server's limit)")] = None,
        labels: Annotated[list[str] | None, Form(description="candidate labels: one per line, or "
                                                 "comma-separated on one line; the field may repeat")] = None,
        window: Annotated[float, Form(description="analysis window length, seconds")] = DEFAULT_WINDOW,
        hop: Annotated[float, Form(description=f"step between windows, seconds ({TIMELINE_MIN_HOP:g} "
                                   f"to window; at most {TIMELINE_MAX_WINDOWS} windows per "
                                   "file)")] = DEFAULT_HOP,
        threshold: Annotated[float, Form(description="probability from which a label is active in a "
                                         "window (0 to 1)")] = DEFAULT_THRESHOLD,
        min_duration: Annotated[float, Form(description="shorter events are dropped, "
                                            "seconds")] = DEFAULT_MIN_DURATION,
        top_k: Annotated[int, Form(description="labels listed per point in top_labels")] = 3,
    ) -> dict:
        """Labels over time in one long recording: every label's probability in windows of
        `window` seconds every `hop` seconds, and the events (onset, offset, label, score) where a
        label's probability stays at or above `threshold` for at least `min_duration` seconds
        (quiet stretches, below -60 dBFS, get no events). The same windows and events as
        `zsaudio classify --segments`. More than 2000 windows are averaged in equal groups
        (`downsampled`); the events always come from every window."""
        found = uploads([file] if file is not None else None)
        if not found:
            raise ServeError(400, "no audio file uploaded: send it in the form field 'file'")
        return service.timeline(found[0], parse_labels(labels), window=window, hop=hop,
                                threshold=threshold, min_duration=min_duration, top_k=top_k)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC_DIR / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
