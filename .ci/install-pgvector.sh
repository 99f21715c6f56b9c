#!/usr/bin/env bash
# Installs the pgvector extension into the machine's PostgreSQL 15. Debian bookworm has no
# postgresql-15-pgvector package, so this builds Debian trixie's source package against
# postgresql-server-dev-15 (about 10 s). Idempotent: does nothing when the extension is installed.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-$(ls -d /usr/lib/postgresql/*/bin/pg_config | sort -V | tail -n1)}
if [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ]; then
  echo "pgvector already installed"; exit 0
fi
cat > /etc/apt/sources.list.d/dgs-trixie-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  build-essential "postgresql-server-dev-$("$PG_CONFIG" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')" dpkg-dev >/dev/null
work=$(mktemp -d)
(cd "$work" && apt-get source --download-only -qq pgvector >/dev/null && dpkg-source -x --no-check ./pgvector_*.dsc src >/dev/null)
make -s -C "$work/src" PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C "$work/src" PG_CONFIG="$PG_CONFIG" install >/dev/null
rm -rf "$work" /etc/apt/sources.list.d/dgs-trixie-src.sources
echo "pgvector installed into $("$PG_CONFIG" --sharedir)/extension"
