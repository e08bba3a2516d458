#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the browser journey test drives it with Playwright.
# Usage: source scripts/chromium.sh
if ! command -v chromium >/dev/null; then
  echo "installing chromium (apt-get) for the browser tests" >&2
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and this user cannot install it: run 'sudo apt-get install chromium'" >&2
    exit 1
  fi
fi
