#!/bin/sh
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are installed, for the tests'
# throw-away servers (test/support/postgres.ts starts its own; the system service is not needed).
# Idempotent: does nothing when they are already there. Meant for CI on a Debian (or Ubuntu)
# machine, as root: otherwise it runs `apt-get update` and `apt-get install -y postgresql`, without
# letting the package start its service.
set -eu

find_bindir() {
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  fi
  return 1
}

report() {
  echo "ensure-postgres: $1 $("$2/postgres" --version) in $2"
}

if bindir=$(find_bindir); then
  report "already installed:" "$bindir"
  exit 0
fi

echo "ensure-postgres: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin or pg_config --bindir"
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-postgres: run me as root to install Debian's postgresql package, or set CINDER_TEST_POSTGRES_URL to a server the tests may create databases on" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-postgres: no apt-get: install the PostgreSQL server (initdb, pg_ctl, postgres) with this system's package manager, or set CINDER_TEST_POSTGRES_URL" >&2
  exit 1
fi

# Keep the package from starting its service: invoke-rc.d asks policy-rc.d first, and 101 means
# "not allowed". An existing policy is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM
  echo "ensure-postgres: wrote $policy for the install so the postgresql service is not started"
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-postgres: apt-get update"
apt-get update
echo "ensure-postgres: apt-get install -y --no-install-recommends postgresql"
apt-get install -y --no-install-recommends postgresql

if bindir=$(find_bindir); then
  report "installed" "$bindir"
  # The package also created the postgres system user the tests run the server as (initdb refuses root).
  id postgres >/dev/null 2>&1 && echo "ensure-postgres: system user 'postgres' present"
else
  echo "ensure-postgres: postgresql installed, but its server binaries are still not found" >&2
  exit 1
fi
