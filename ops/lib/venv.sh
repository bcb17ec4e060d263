# Sourced by ops/* scripts: makes .venv and installs the project when pyproject.toml changed.
ensure_venv() { # extras (e.g. "test"; empty for the runtime only)
  local extras=${1:-} spec=. stamp
  [ -n "$extras" ] && spec=".[$extras]"
  stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-runtime}
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ]; then
    echo "== installing the project into .venv ($spec)"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install -q -e "$spec"
    touch "$stamp"
  fi
}
