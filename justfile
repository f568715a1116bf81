# Tasks for working on the copier-mlops template itself.
# `just` alone lists every recipe. Recipes live in tasks/*.just, one concern per file.

set shell := ["bash", "-euo", "pipefail", "-c"]
set export

DVC_NO_ANALYTICS := "1"
MLFLOW_DISABLE_TELEMETRY := "true"

import 'tasks/test.just'
import 'tasks/check.just'
import 'tasks/demo.just'
import 'tasks/docs.just'
import 'tasks/release.just'
import 'tasks/bench.just'

# List every recipe
default:
    @just --list --unsorted
