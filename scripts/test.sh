#!/usr/bin/env bash
# The project's test command, for developers and CI alike (.ci/run calls it):
#   bash scripts/test.sh [pytest args...]
#
# 1. installs what the tests need, only when missing: Debian packages (as root),
#    the project with its [test] extra (pyproject.toml is the one list of
#    Python dependencies);
# 2. starts Elasticsearch (Maven Central integ-test-zip, version in
#    scripts/es-version), an S3 server (moto) and a throwaway PostgreSQL
#    cluster (initdb, as a non-root user) on 127.0.0.1, unless
#    COMMARCHIVE_TEST_ES_URL / _S3_URL / _PG_URL are already set, and stops
#    them on exit;
# 3. runs ruff, mypy and pytest, and exits non-zero if any of them failed.
#
# Set COMMARCHIVE_SKIP_INSTALL=1 to skip step 1 on a machine already set up.
#
# Python packages go into the project's virtual environment ./.venv (as
# scripts/run.sh does), never into the machine's interpreter, unless
# COMMARCHIVE_SYSTEM_PYTHON=1 says to use $PYTHON itself (CI does: a throwaway
# machine, where that saves creating the environment).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PYTHON=${PYTHON:-python3}
if [[ -z ${COMMARCHIVE_SYSTEM_PYTHON:-} ]]; then
    [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv || { echo "error: cannot create .venv" >&2; exit 1; }
    PYTHON=.venv/bin/python
fi
APT_PACKAGES=(sip-tester swaks espeak-ng sox chromium chromium-driver softhsm2 postgresql libnss3-tools strace)
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Recordings in the formats PBXs write, made in the tests (tests/ingest/formats.py):
# sox writes MP3 with libsox-fmt-mp3, and only opusenc writes Ogg/Opus.
APT_PACKAGES+=(libsox-fmt-mp3 opus-tools)

started_at=$(date +%s)
step() { printf '\n==> %s (+%ss)\n' "$*" "$(( $(date +%s) - started_at ))"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Registries time out now and then: one more try after a pause.
retry() { "$@" || { echo "retrying in 15s: $*" >&2; sleep 15; "$@"; }; }

missing_debian_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || printf '%s\n' "$pkg"
    done
}

install_requirements() {
    local wanted=("${APT_PACKAGES[@]}")
    command -v mvn >/dev/null || wanted+=(maven)
    command -v java >/dev/null || wanted+=(default-jre-headless)
    mapfile -t missing < <(missing_debian_packages "${wanted[@]}")
    if ((${#missing[@]})); then
        step "Debian packages: ${missing[*]}"
        if [[ $(id -u) -ne 0 ]]; then
            die "missing Debian packages (install as root): ${missing[*]}"
        fi
        export DEBIAN_FRONTEND=noninteractive
        retry apt-get update -q || die "apt-get update failed"
        retry apt-get install -y -q "${missing[@]}" || die "apt-get install failed"
    fi
    step "Python packages: pip install -e '.[test]'"
    retry "$PYTHON" -m pip install -q --root-user-action=ignore -e '.[test]' \
        || die "pip install failed"
}

stop_services() {
    if [[ -n ${SERVICES_STARTED:-} ]]; then
        step "stopping test services"
        "$PYTHON" -m tests.services stop || true
    fi
}

start_services() {
    if [[ -n ${COMMARCHIVE_TEST_ES_URL:-} && -n ${COMMARCHIVE_TEST_S3_URL:-} \
          && -n ${COMMARCHIVE_TEST_PG_URL:-} ]]; then
        step "using services at $COMMARCHIVE_TEST_ES_URL, $COMMARCHIVE_TEST_S3_URL" \
             "and $COMMARCHIVE_TEST_PG_URL"
        return
    fi
    step "starting Elasticsearch $(cat scripts/es-version), S3 (moto) and PostgreSQL on 127.0.0.1"
    local exports
    SERVICES_STARTED=1
    exports=$("$PYTHON" -m tests.services start) || die "test services did not start"
    eval "$exports"
    export COMMARCHIVE_TEST_ES_URL COMMARCHIVE_TEST_S3_URL COMMARCHIVE_TEST_PG_URL \
        COMMARCHIVE_TEST_SERVICES_STATE
}

[[ -n ${COMMARCHIVE_SKIP_INSTALL:-} ]] || install_requirements
trap stop_services EXIT
trap 'exit 130' INT TERM
start_services

failed=()

step "ruff check"
"$PYTHON" -m ruff check keys archive ingest search_api commarchive tests bench || failed+=(ruff)

step "mypy"
"$PYTHON" -m mypy || failed+=(mypy)

step "pytest $*"
"$PYTHON" -m pytest -n "${COMMARCHIVE_TEST_PROCESSES:-2}" --durations=30 "$@"
rc=$?
case $rc in
    0) ;;
    5) echo "pytest collected no tests: that is a failure here"; failed+=(pytest) ;;
    *) failed+=(pytest) ;;
esac

step "done"
if [[ -d artifacts/screenshots ]]; then
    echo "screenshots of the browser tests: $PWD/artifacts/screenshots ($(ls artifacts/screenshots | wc -l) files)"
fi
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "ruff, mypy and pytest passed"
