"""Serialise registry changes: a file lock locally, a server-arbitrated lease when shared.

A change is read-modify-write (read the champion, archive it, move the
alias), which the store alone cannot make atomic. Checkouts of one project
share nothing but the tracking server, so a file lock cannot serialise them:
with a shared store the lock is a registered model named after the real one,
whose creation the server's unique constraint grants to exactly one caller.
The local store keeps a file lock (``filelock``: released by the OS if the
process dies, and portable to Windows).
"""

import getpass
import os
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import RegistryError

#: Seconds to wait for another command's change before giving up (``MODEL_REGISTRY_LOCK_TIMEOUT``).
LOCK_TIMEOUT_ENV = "MODEL_REGISTRY_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0
#: A server lease older than this is considered abandoned by a crashed command.
LEASE_SECONDS = 300.0
LOCK_SUFFIX = ".registry-lock"
_OWNER_TAG = "lock.owner"
_SINCE_TAG = "lock.since"


def _timeout() -> float:
    return float(os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the project's registry lock file while changing the local store.

    Raises:
        RegistryError: another command held the lock for longer than the timeout.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path), timeout=_timeout()):
            yield
    except Timeout:
        raise RegistryError(
            f"Another registry command has held {path} for over {_timeout():.0f} s; "
            f"wait for it or raise {LOCK_TIMEOUT_ENV}."
        ) from None


@contextmanager
def server_lease(model_name: str) -> Iterator[None]:
    """Hold a lease on ``model_name`` that the tracking server arbitrates.

    Raises:
        RegistryError: another checkout held the lease for longer than the timeout.
    """
    client = MlflowClient()
    lock_name = f"{model_name}{LOCK_SUFFIX}"
    owner = f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}:{time.monotonic_ns()}"
    deadline = time.monotonic() + _timeout()
    delay = 0.05
    while True:
        try:
            client.create_registered_model(
                lock_name,
                tags={_OWNER_TAG: owner, _SINCE_TAG: str(time.time())},
                description=f"Lease on {model_name} held during one registry change; "
                "removed when the change completes.",
            )
            break
        except MlflowException:
            _break_if_abandoned(client, lock_name)
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"Registry of {model_name!r} is locked by another checkout "
                    f"({_holder(client, lock_name)}) for over {_timeout():.0f} s; wait, raise "
                    f"{LOCK_TIMEOUT_ENV}, or delete the registered model {lock_name!r} if its "
                    "owner crashed."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    try:
        yield
    finally:
        # Already gone only if another command broke it as abandoned.
        with suppress(MlflowException):
            client.delete_registered_model(lock_name)


def _holder(client: MlflowClient, lock_name: str) -> str:
    try:
        tags = client.get_registered_model(lock_name).tags
    except MlflowException:
        return "released"
    since = float(tags.get(_SINCE_TAG, "0") or 0)
    at = datetime.fromtimestamp(since, tz=UTC).isoformat(timespec="seconds")
    return f"{tags.get(_OWNER_TAG, 'unknown')} since {at}"


def _break_if_abandoned(client: MlflowClient, lock_name: str) -> None:
    """Remove a lease whose holder has not finished within :data:`LEASE_SECONDS`."""
    try:
        since = float(client.get_registered_model(lock_name).tags.get(_SINCE_TAG, "0") or 0)
    except MlflowException:
        return
    if time.time() - since > LEASE_SECONDS:
        with suppress(MlflowException):
            client.delete_registered_model(lock_name)


def registry_lock(model_name: str, lock_file: Path, local: bool) -> AbstractContextManager[None]:
    """The lock that serialises changes to ``model_name`` in the store in use."""
    return file_lock(lock_file) if local else server_lease(model_name)
