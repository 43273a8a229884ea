#!/usr/bin/env bash
# Install commarchive and run it on its embedded defaults:
#   bash scripts/run.sh [DATA_DIR]          (default ./archive-data)
# local directory store, SQLite catalog, SQLite FTS5 index, vosk if a model is
# installed. Creates the archive on first run (its 0600 master key goes to
# $XDG_CONFIG_HOME/commarchive/, outside DATA_DIR; production uses a passphrase or
# an HSM: README, Keys and backups), prints an admin hint, then serves HTTP on 127.0.0.1:8000, SMTP on 127.0.0.1:2525 and
# SIPREC on 127.0.0.1:5060. Override with COMMARCHIVE_* variables (README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
DATA_DIR=${1:-${COMMARCHIVE_DATA_DIR:-./archive-data}}
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$PYTHON" -m pip install -q --root-user-action=ignore -e .
if [[ ! -e "$DATA_DIR/archive.toml" ]]; then
    "$PYTHON" -m commarchive init "$DATA_DIR"
    echo "Create users with: commarchive --data-dir $DATA_DIR users add NAME --role quality" >&2
fi
exec "$PYTHON" -m commarchive --data-dir "$DATA_DIR" serve \
    --http "${COMMARCHIVE_HTTP:-127.0.0.1:8000}" \
    --smtp "${COMMARCHIVE_SMTP:-127.0.0.1:2525}" \
    --sip "${COMMARCHIVE_SIP:-127.0.0.1:5060}"
