# Shared by scripts/demo and scripts/test (sourced, not run): the system libraries Qt needs
# offscreen, a .venv, and the project installed into it. Safe to run again: it skips what is done.

QT_PACKAGES=(libgl1 libegl1 libxkbcommon0 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 fonts-dejavu-core)
# Sound, speech and calls: Qt Multimedia needs libpulse0 to load; the tests' speaker and microphone
# are a PulseAudio null sink (pactl, parec from pulseaudio-utils), heard by PyAV through ALSA's pulse
# plugin; speech goes through speech-dispatcher and espeak-ng on a real board (the tests use Qt's
# mock engine); the screen a call shares in the tests is an Xvfb display.
AUDIO_PACKAGES=(libpulse0 pulseaudio pulseaudio-utils libasound2-plugins speech-dispatcher espeak-ng xvfb)
PYTHON=${PYTHON:-python3}

missing_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null | grep -q '^ii' || echo "$package"
  done
}

# ensure_system_packages [EXTRA...]: the Qt libraries, plus any extra packages named.
ensure_system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "Not Debian or Ubuntu: make sure the equivalents of ${QT_PACKAGES[*]} $* are installed." >&2
    return 0
  fi
  local wanted=("${QT_PACKAGES[@]}" "$@")
  command -v "$PYTHON" >/dev/null 2>&1 || wanted+=(python3)
  "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 || wanted+=(python3-venv)
  local missing
  missing=$(missing_packages "${wanted[@]}" | tr '\n' ' ')
  [ -n "${missing// /}" ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages; please run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
    return 0
  fi
  echo "Installing system packages: $missing"
  local log
  log=$(mktemp)
  # shellcheck disable=SC2086  # $missing is a list of package names
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "Installing the system packages failed." >&2
    exit 1
  fi
  rm -f "$log"
}

# ensure_project TARGET: .venv with the project installed as `pip install -e TARGET` (e.g. '.[test]').
# Reinstalls only when pyproject.toml or the target changed; delete .venv to start from scratch.
ensure_project() {
  local target=$1
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "ClinicDesk needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv"
    "$PYTHON" -m venv .venv
  fi
  local stamp
  stamp=".venv/.installed-$(printf '%s\n' "$target" | cat - pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    echo "Installing ClinicDesk into .venv ($target); the first time takes a few minutes"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
    touch "$stamp"
  fi
}

# postgres_url: prints the URL of a PostgreSQL server on this machine that the tests may use
# (CLINIC_TEST_POSTGRES, else postgres@127.0.0.1:5432 with trust auth), starting the local
# cluster when it is installed but stopped. Fails when there is none.
postgres_url() {
  local url=${CLINIC_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}
  command -v pg_isready >/dev/null 2>&1 || return 1
  if ! pg_isready -q -d "$url" 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      local version
      version=$(ls /etc/postgresql | sort -V | tail -n 1)
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
      for _ in $(seq 1 20); do pg_isready -q -d "$url" 2>/dev/null && break; sleep 0.5; done
    fi
    pg_isready -q -d "$url" 2>/dev/null || return 1
  fi
  echo "$url"
}

# start_pulseaudio: a PulseAudio daemon for this user, if none runs (the board's chime in tests;
# the tests add their own null sink). Without a display or sound card it plays into null sinks.
start_pulseaudio() {
  command -v pulseaudio >/dev/null 2>&1 || return 0
  pactl info >/dev/null 2>&1 && return 0
  pulseaudio -D --exit-idle-time=-1 >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do pactl info >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "PulseAudio did not start: the board's chime tests will fail." >&2
}
