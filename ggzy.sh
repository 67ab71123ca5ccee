#!/usr/bin/env bash
# The one entry point for a fresh machine: installs what the platform needs
# (a virtualenv with the project, Debian's prometheus for the tests), then runs
#   ./ggzy.sh demo    start the local platform (Kafka, embedded store, services) and run the demo
#   ./ggzy.sh test    run the test suite against a real Kafka broker and the embedded store
#   ./ggzy.sh ARGS    any `ggzy` command, e.g. `./ggzy.sh dev down`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

need_python() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "ggzy: Python >= 3.11 is required (set PYTHON=...)" >&2; exit 2; }
}

install_project() {
  local stamp="$venv/.ggzy-$(cat "$root/pyproject.toml" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  need_python
  echo "ggzy: installing the project into .venv ..." >&2
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -e "$root[test]" >&2
  rm -f "$venv"/.ggzy-* && touch "$stamp"
}

need_tool() {  # need_tool COMMAND DEBIAN-PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "ggzy: installing Debian package $2 ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$2") >/dev/null 2>&1 || true
  fi
  command -v "$1" >/dev/null 2>&1 || { echo "ggzy: '$1' is required (Debian package $2)" >&2; exit 2; }
}

need_tool java openjdk-17-jre-headless
need_tool mvn maven
install_project
cd "$root"
case "${1:-}" in
  test)
    shift
    need_tool promtool prometheus
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  demo)
    "$venv/bin/ggzy" dev up
    exec "$venv/bin/ggzy" demo
    ;;
  *)
    exec "$venv/bin/ggzy" "$@"
    ;;
esac
