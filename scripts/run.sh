#!/usr/bin/env bash
# Run opml: the agent and the dashboard on the local backend (http://127.0.0.1:8501).
# Extra arguments go to `opml up` (e.g. --port 8502); the workspace is $OPML_WORKSPACE or ~/.opml/workspace.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/opml up "$@"
