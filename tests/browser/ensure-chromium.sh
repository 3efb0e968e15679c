#!/bin/sh
# What the browser tests need: a Chromium that Playwright can drive (never Playwright's own download).
# Found as $CHROMIUM, /usr/bin/chromium or /usr/bin/chromium-browser; otherwise installed with apt-get
# (as root, or with sudo when it needs no password). Where neither works, the rest of `make test` still
# runs and the browser tests are skipped, loudly; in CI (CI=true) that is an error instead.
set -u

found() {
    for candidate in "${CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && return 0
    done
    return 1
}

found && exit 0

if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        sudo="none"
    fi
    if [ "$sudo" != none ]; then
        echo "Installing Debian's chromium for the browser tests (apt-get)…"
        $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        found && exit 0
    fi
fi

cat >&2 <<'BANNER'

  ************************************************************************************************
  *  BROWSER TESTS WILL BE SKIPPED: no Chromium, and it could not be installed here.             *
  *  To run them, install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; elsewhere     *
  *  your package manager's chromium) or point CHROMIUM=/path/to/chromium at one, then re-run.    *
  ************************************************************************************************

BANNER
if [ -n "${CI:-}" ]; then
    echo "CI=true: browser tests must run in CI; failing." >&2
    exit 1
fi
exit 0
