"""``python -m <package>.serving``: verify a model bundle, then serve it with uvicorn.

Configured by environment, as a container is: ``MODEL_BUNDLE`` (default
``build/model``), ``HOST`` (default 127.0.0.1; the image sets 0.0.0.0),
``PORT`` (default 8000), ``SERVING_LOG_FEATURES`` (``true`` logs request
rows) and ``SERVING_MAX_BATCH_ROWS`` (the most rows one request may carry;
unset: no limit, as ``mlflow models serve``). ``--check`` verifies the bundle
and exits, which the image build runs.
A bundle that fails verification stops the process with one ``error:`` line.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError, ProjectError

DEFAULT_BUNDLE = "build/model"
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
    bundle: Path, *, host: str | None = None, port: str | None = None, check_only: bool = False
) -> int:
    """Verify and load ``bundle``, then serve it until SIGTERM/SIGINT.

    ``host`` and ``port`` default to ``$HOST`` (else 127.0.0.1) and ``$PORT`` (else 8000).

    Raises:
        ConfigError: the port is not a number from 1 to 65535.
        ProjectError: the bundle is missing or fails verification.
    """
    host = host or os.environ.get("HOST") or "127.0.0.1"
    port = port or os.environ.get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 0 < int(port) <= _MAX_PORT:
        raise ConfigError(f"PORT must be a number from 1 to {_MAX_PORT}; got {port!r}.")
    max_rows = max_batch_rows(os.environ.get("SERVING_MAX_BATCH_ROWS"))
    from .bundle import open_bundle  # noqa: PLC0415 - argument errors stay instant

    model = open_bundle(bundle)
    if check_only:
        print(f"bundle {bundle} verified: model {model.semver} ({model.adapter.strategy.kind})")
        return 0
    import uvicorn  # noqa: PLC0415

    from .app import create_app  # noqa: PLC0415

    _log_requests_as_json_lines()
    app = create_app(
        model,
        log_features=os.environ.get("SERVING_LOG_FEATURES") == "true",
        max_batch_rows=max_rows,
    )
    print(f"serving model {model.semver} on http://{host}:{port}", file=sys.stderr, flush=True)
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
