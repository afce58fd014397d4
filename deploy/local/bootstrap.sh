#!/usr/bin/env bash
# Install what is missing on a fresh machine: uv, the Python environment, Maven/Go if absent,
# the Kafka broker classpath and the FerretDB binary (and PostgreSQL for its postgresql backend),
# and Keycloak for the sign-in tests; for the web console, npm and its front-end files, and
# Debian's Chromium for the browser test.
# Everything is cached after the first run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
log() { printf '[install] %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then log "please install: $*"; exit 1; fi
  log "installing $* with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v java >/dev/null || apt_install openjdk-17-jre-headless
command -v mvn >/dev/null || apt_install maven
command -v go >/dev/null || apt_install golang-go
command -v npm >/dev/null || apt_install npm
# The browser test drives Debian's Chromium with Playwright (no browser download).
{ command -v chromium && command -v chromedriver; } >/dev/null || apt_install chromium chromium-driver

# The console's front-end files (GOV.UK Frontend CSS, axe-core), exactly as locked; no build step.
WEB_ASSETS=services/web/assets
if [ ! -f "$WEB_ASSETS/node_modules/.package-lock.json" ] ||
   [ "$WEB_ASSETS/package-lock.json" -nt "$WEB_ASSETS/node_modules/.package-lock.json" ]; then
  log "installing the console's front-end files (npm ci in $WEB_ASSETS)"
  npm ci --prefix "$WEB_ASSETS" --no-audit --no-fund --loglevel=error
fi

if ! command -v uv >/dev/null && [ ! -x "$HOME/.local/bin/uv" ]; then
  log "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi
UV=$(command -v uv || echo "$HOME/.local/bin/uv")
"$UV" sync --locked --quiet
# FerretDB on PostgreSQL (ILRFLOW_FERRETDB_BACKEND, see deploy/local/stack.sh) runs a cluster of
# Debian's PostgreSQL server.
if [ "$(deploy/local/stack.sh backend)" = postgresql ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 &&
   ! command -v initdb >/dev/null; then
  apt_install postgresql
fi
deploy/local/stack.sh install
# Only the sign-in tests (tests/e2e/test_oidc_sign_in.py) use Keycloak, and they fetch it on
# first use too: a machine that cannot fetch it now still gets a working install.
deploy/local/keycloak.sh install || log "Keycloak was not fetched; the sign-in tests will try again"
if ! command -v uv >/dev/null; then
  log "uv is in $HOME/.local/bin, which is not on PATH: run the CLI as ./ilrflow (or add it to PATH)"
fi
