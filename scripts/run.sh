#!/usr/bin/env bash
# Install commarchive into the project's own virtual environment and run it on its
# embedded defaults:
#   bash scripts/run.sh [DATA_DIR] [INIT OPTIONS...]     (DATA_DIR default ./archive-data)
# local directory store, SQLite catalog, SQLite FTS5 index, vosk if a model is
# installed.
#
# Installs into ./.venv (COMMARCHIVE_VENV), never into the machine's interpreter;
# it reinstalls only when pyproject.toml changed. COMMARCHIVE_VENV_SYSTEM_SITE_PACKAGES=1
# lets the environment see packages the machine already has (faster on a machine set
# up for the tests; nothing is written outside the environment either way).
#
# On the first run it creates the archive (`commarchive init`, which asks for your
# organisation on a terminal; INIT OPTIONS such as --organisation and
# --internal-domain answer without asking), its 0600 master key in
# $XDG_CONFIG_HOME/commarchive/, outside DATA_DIR (production uses a passphrase or
# an HSM: README, Keys and backups), and a first `admin` user whose token it prints
# once. Then it serves HTTP (and the web UI) on 127.0.0.1:8000, SMTP on
# 127.0.0.1:2525 and SIPREC on 127.0.0.1:5060. Override with COMMARCHIVE_* variables
# (README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=${COMMARCHIVE_VENV:-.venv}
DATA_DIR=${COMMARCHIVE_DATA_DIR:-./archive-data}
if [[ $# -gt 0 && $1 != -* ]]; then
    DATA_DIR=$1
    shift
fi
HTTP=${COMMARCHIVE_HTTP:-127.0.0.1:8000}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [[ ! -x $VENV/bin/python ]]; then
    echo "creating the virtual environment $VENV" >&2
    "$PYTHON" -m venv ${COMMARCHIVE_VENV_SYSTEM_SITE_PACKAGES:+--system-site-packages} "$VENV"
fi
PY=$VENV/bin/python
stamp=$VENV/.commarchive-pyproject.sha256
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -e $stamp || $(cat "$stamp") != "$wanted" ]]; then
    echo "installing commarchive and its dependencies into $VENV" >&2
    "$PY" -m pip install -q -e .
    echo "$wanted" >"$stamp"
fi

if [[ ! -e $DATA_DIR/archive.toml ]]; then
    "$PY" -m commarchive init "$DATA_DIR" "$@"
    token=$("$PY" -m commarchive --data-dir "$DATA_DIR" users add admin --role admin)
    cat >&2 <<EOF

The first administrator, "admin", signs in with this token. It is shown only now;
keep it somewhere safe (lost: revoke it and add another admin with the command below):

    $token

Add the people who use the archive (roles: quality, trainer, privacy, legal, ingest, admin):
    $VENV/bin/commarchive --data-dir $DATA_DIR users add NAME --role quality

EOF
fi
echo "web UI: http://$HTTP/ (sign in with a token)" >&2
exec "$PY" -m commarchive --data-dir "$DATA_DIR" serve \
    --http "$HTTP" \
    --smtp "${COMMARCHIVE_SMTP:-127.0.0.1:2525}" \
    --sip "${COMMARCHIVE_SIP:-127.0.0.1:5060}"
