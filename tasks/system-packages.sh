#!/usr/bin/env bash
# System packages the template's end-to-end tests need, installed from Debian when missing.
# `just test` runs this first, so the README's test command sets up a fresh machine too;
# silent when everything is there already, a warning (not a failure) where apt is unusable.
# Packages named as arguments are installed too (`just bench-serving` asks for wrk).
set -euo pipefail

# tests/test_image.py builds and runs the generated serving image with podman (runc
# where crun cannot start containers) on a base made by debootstrap. Install what is
# missing on Debian-family runners; silent when everything is there already.
image_packages=(podman runc debootstrap)
# tests/test_drift_report.py opens the generated drift report in headless Chromium.
image_packages+=(chromium)
image_packages+=("$@")
missing=()
for package in "${image_packages[@]}"; do
    status=$(dpkg-query --show --showformat='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done
# tests/test_team_stack.py runs a real PostgreSQL server (initdb, postgres) on loopback.
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(postgresql)
fi
# tests/test_monitoring_infra.py checks the Prometheus files with promtool and pushes
# the batch jobs' metrics to a real Pushgateway.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
if [ "${#missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo --non-interactive)
    echo "Installing ${missing[*]} (Debian) for the template's tests and benchmarks."
    if ! { ${as_root[@]+"${as_root[@]}"} apt-get update -qq >/dev/null \
        && ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
        echo "warning: could not install ${missing[*]}; tests/test_image.py, tests/test_team_stack.py, tests/test_drift_report.py or tests/test_monitoring_infra.py will fail under CI" >&2
    fi
fi
