#!/bin/sh
# Install incident-bot from its wheel into a fresh virtualenv, and prove the install works.
#
#   deploy/install.sh WHEEL_OR_DIR [PREFIX]
#
# WHEEL_OR_DIR: the incident_bot-*.whl, or a folder holding exactly one. PREFIX: the virtualenv to
# create (default /opt/incident-bot); its bin/ holds `incident-bot`. Dependencies come from the
# package index as pip is configured (PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_CACHE_DIR…).
# PYTHON picks the interpreter (default python3).
#
# This is everything the container image does to install the bot (the Dockerfile RUNs it), and
# tests/packaging runs it too: what the image does is tested without a container engine.
set -eu

usage="usage: deploy/install.sh WHEEL_OR_DIR [PREFIX]"
source=${1:?$usage}
prefix=${2:-/opt/incident-bot}
python=${PYTHON:-python3}

if [ -d "$source" ]; then
    set -- "$source"/incident_bot-*.whl
    if [ $# -ne 1 ] || [ ! -f "$1" ]; then
        echo "install.sh: expected exactly one incident_bot-*.whl in $source" >&2
        exit 2
    fi
    wheel=$1
elif [ -f "$source" ]; then
    wheel=$source
else
    echo "install.sh: no wheel at $source ($usage)" >&2
    exit 2
fi

"$python" -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
"$prefix/bin/python" -m pip check --disable-pip-version-check

# The entry point runs, and finds what it reads at run time in the installed package: the Business
# Rule script and the Alembic migrations (package data, never files of a checkout).
"$prefix/bin/incident-bot" business-rule >/dev/null
"$prefix/bin/python" -I - <<'EOF'
from alembic.script import ScriptDirectory

from storage.db import alembic_config

head = ScriptDirectory.from_config(alembic_config()).get_current_head()
if head is None:
    raise SystemExit("install.sh: the installed package holds no migrations")
print(f"install.sh: incident-bot installed; migrations up to {head}")
EOF
