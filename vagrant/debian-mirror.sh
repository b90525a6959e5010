#!/bin/sh
# Prints the Debian mirror this machine already uses for bookworm ($DEBIAN_MIRROR wins): the
# first deb822 stanza in /etc/apt/sources.list.d/*.sources whose Suites name bookworm, else the
# first one-line `deb URI bookworm ...` entry.
[ -n "${DEBIAN_MIRROR:-}" ] && { echo "$DEBIAN_MIRROR"; exit 0; }
{
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk 'tolower($1) == "uris:" {u=$2} tolower($1) == "suites:" && / bookworm( |$)/ {print u; exit}' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($3 == "bookworm") print $2 }'
} | head -n1
