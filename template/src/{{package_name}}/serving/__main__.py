"""``python -m <package>.serving``: verify a model bundle, then serve it with uvicorn.

Configured by environment, as a container is: ``MODEL_BUNDLE`` (default
``build/model``), ``HOST`` (default 127.0.0.1; the image sets 0.0.0.0),
``PORT`` (default 8000), ``SERVING_LOG_FEATURES`` (``true`` logs request
rows) and ``SERVING_MAX_BATCH_ROWS`` (the most rows one request may carry;
unset: no limit, as ``mlflow models serve``). ``--check`` verifies the bundle
and exits, which the image build runs.

``SHADOW_MODEL`` (a version such as ``1.1.0``, or ``@challenger``) adds a
shadow: the bundle at ``SHADOW_BUNDLE`` (default ``build/shadow``; ``just
serve`` exports it from the registry, ``just deploy <version> shadow`` mounts
it in the pod) is verified as the primary is, must hold that version when a
version is named, and must take the primary's input schema; it then scores
every answered request's rows off the request path (:mod:`.shadow`;
``SHADOW_QUEUE_SIZE``, ``SHADOW_LOG_SAMPLE_RATE``).
``OTEL_EXPORTER_OTLP_ENDPOINT`` turns on OpenTelemetry traces (:mod:`.tracing`).
A bundle that fails verification stops the process with one ``error:`` line.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, ProjectError

if TYPE_CHECKING:
    from .bundle import ServedModel
    from .shadow import ShadowSettings

DEFAULT_BUNDLE = "build/model"
DEFAULT_SHADOW_BUNDLE = "build/shadow"
DEFAULT_PORT = 8000
EXIT_REFUSED = 2
_MAX_PORT = 65535
# In-flight requests get this long to finish after SIGTERM (Kubernetes waits 30 s).
GRACEFUL_SHUTDOWN_SECONDS = 20


def main(argv: Sequence[str] | None = None) -> int:
    """Verify the bundle; serve it unless ``--check``. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--bundle", type=Path, default=None, help="bundle directory")
    parser.add_argument("--host", default=None, help="address to listen on")
    parser.add_argument("--port", default=None, help="port to listen on")
    parser.add_argument("--check", action="store_true", help="verify the bundle and exit")
    args = parser.parse_args(argv)
    try:
        return serve(
            args.bundle or Path(os.environ.get("MODEL_BUNDLE") or DEFAULT_BUNDLE),
            host=args.host,
            port=args.port,
            check_only=args.check,
        )
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def serve(
    bundle: Path,
    *,
    host: str | None = None,
    port: str | None = None,
    check_only: bool = False,
    shadow_bundle: Path | None = None,
) -> int:
    """Verify and load ``bundle`` (and a shadow's), then serve it until SIGTERM/SIGINT.

    ``host`` and ``port`` default to ``$HOST`` (else 127.0.0.1) and ``$PORT`` (else 8000);
    ``shadow_bundle`` to ``$SHADOW_BUNDLE`` (else ``build/shadow``), read only when
    ``$SHADOW_MODEL`` is set.

    Raises:
        ConfigError: the port is not a number from 1 to 65535, or a shadow setting is wrong.
        ProjectError: a bundle is missing or fails verification.
    """
    host = host or os.environ.get("HOST") or "127.0.0.1"
    port = port or os.environ.get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) <= _MAX_PORT:
        raise ConfigError(f"PORT must be a number from 1 to {_MAX_PORT}; got {port!r}.")
    max_rows = max_batch_rows(os.environ.get("SERVING_MAX_BATCH_ROWS"))
    from .bundle import open_bundle  # noqa: PLC0415 - argument errors stay instant

    log_features = os.environ.get("SERVING_LOG_FEATURES") == "true"
    model = open_bundle(bundle)
    shadow, settings = _shadow(model, shadow_bundle, log_features=log_features)
    if check_only:
        print(f"bundle {bundle} verified: model {model.semver} ({model.adapter.strategy.kind})")
        if shadow is not None:
            print(f"shadow bundle verified: model {shadow.semver}")
        return 0
    import uvicorn  # noqa: PLC0415

    from .app import create_app  # noqa: PLC0415

    tracer_provider = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from .tracing import provider_from_env  # noqa: PLC0415 - opentelemetry only then

        tracer_provider = provider_from_env(model.semver)
    _log_requests_as_json_lines()
    app = create_app(
        model,
        log_features=log_features,
        max_batch_rows=max_rows,
        shadow=shadow,
        shadow_settings=settings,
        tracer_provider=tracer_provider,
    )
    beside = f" with shadow {shadow.semver}" if shadow is not None else ""
    print(
        f"serving model {model.semver}{beside} on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=int(port),
        access_log=False,  # one JSON line per request comes from the app itself
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


def max_batch_rows(setting: str | None) -> int | None:
    """``SERVING_MAX_BATCH_ROWS`` as a row count; unset or empty means no limit.

    Raises:
        ConfigError: the setting is not a whole number from 1 up.
    """
    if not setting:
        return None
    if not setting.strip().isdigit() or int(setting) < 1:
        raise ConfigError(
            "SERVING_MAX_BATCH_ROWS must be a whole number of rows from 1 up, or unset for "
            f"no limit; got {setting!r}."
        )
    return int(setting)


def _shadow(
    primary: "ServedModel", path: Path | None, *, log_features: bool
) -> tuple["ServedModel | None", "ShadowSettings | None"]:
    """The shadow ``$SHADOW_MODEL`` asks for, verified, and its settings; none if unset.

    Raises:
        ConfigError: the bundle holds another version, or another input schema.
        ProjectError: the bundle is missing or fails verification.
    """
    wanted = os.environ.get("SHADOW_MODEL", "").strip()
    if not wanted:
        return None, None
    from .bundle import open_bundle  # noqa: PLC0415
    from .shadow import ShadowSettings, check_compatible  # noqa: PLC0415

    settings = ShadowSettings.from_env(dict(os.environ), log_features=log_features)
    path = path or Path(os.environ.get("SHADOW_BUNDLE") or DEFAULT_SHADOW_BUNDLE)
    try:
        shadow = open_bundle(path)
    except ProjectError as exc:
        raise type(exc)(f"SHADOW_MODEL={wanted}: {exc}") from None
    if not wanted.startswith("@") and shadow.semver != wanted:
        raise ConfigError(
            f"SHADOW_MODEL={wanted}, but the shadow bundle at {path} holds model "
            f"{shadow.semver}; export that version there (just export {wanted} {path}) or "
            "name the version it holds."
        )
    check_compatible(primary, shadow)
    return shadow, settings


def _log_requests_as_json_lines() -> None:
    from .observability import ACCESS_LOGGER  # noqa: PLC0415

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger(ACCESS_LOGGER)
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


if __name__ == "__main__":
    sys.exit(main())
