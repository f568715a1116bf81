"""Wait for a demo project's server, then send it one held-out row and print the answer.

Runs in the generated project's environment (``uv run`` from its root), so it
reads the row from the project's own prepared test split.
"""

import json
import sys
import time
import urllib.error
import urllib.request

import pandas as pd

STARTUP_SECONDS = 180


def main(base: str) -> int:
    """Print the served answer for one row; 1 if the server never became ready."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=2):  # noqa: S310 - loopback
                break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                print(f"error: {base}/ready did not answer in {STARTUP_SECONDS} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
    row = pd.read_parquet("data/prepared/test.parquet").drop(columns=["target"]).head(1)
    body = json.dumps({"records": row.to_dict(orient="records")}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/predict", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer = json.loads(response.read())
    print(f"POST {base}/predict -> {json.dumps(answer)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
