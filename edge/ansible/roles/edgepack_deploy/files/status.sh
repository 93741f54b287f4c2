#!/bin/sh
# What an edgepack install runs now, as one JSON line, read from the installed version's own
# `install.sh --status` (the same settings, the same probe of /readyz; nothing is changed).
#   status.sh PREFIX
# {"current": id or "", "previous": id or "", "pending": "none" or the journal state,
#  "answering": id answering /readyz or "", "precision": ..., "url": http://host:port or ""}
set -u
p=$1
if [ ! -f "$p/current/install.sh" ]; then
    printf '{"current": "", "previous": "", "pending": "none", "answering": "", "precision": "", "url": ""}\n'
    exit 0
fi
out=$(sh "$p/current/install.sh" --status 2>&1) || true
field() { printf '%s\n' "$out" | sed -n "s/^$1: *//p" | head -n 1; }
clean() { case "$1" in *[!A-Za-z0-9._+:/-]*) printf '?' ;; *) printf '%s' "$1" ;; esac; }
cur=$(field current); [ "$cur" = none ] && cur=""
prev=$(field previous)
pending=$(field pending | cut -d' ' -f1)
# answering: http://127.0.0.1:8357: 1.0.0-54387217974b (int8, ready)
ans=$(printf '%s\n' "$out" | sed -n 's/^answering: \(http[^ ]*\): \([^ ]*\) (\([^,]*\), ready)$/\1 \2 \3/p' | head -n 1)
url="" who="" precision=""
if [ -n "$ans" ]; then
    set -- $ans
    url=$1 who=$2 precision=$3
else
    url=$(printf '%s\n' "$out" | sed -n 's/^answering: \(http[^ ]*\): .*/\1/p' | head -n 1)
fi
printf '{"current": "%s", "previous": "%s", "pending": "%s", "answering": "%s", "precision": "%s", "url": "%s"}\n' \
    "$(clean "$cur")" "$(clean "$prev")" "$(clean "${pending:-none}")" "$(clean "$who")" "$(clean "$precision")" \
    "$(clean "${url%:}")"
