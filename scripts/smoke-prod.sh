#!/usr/bin/env bash
# Smoke test of a production deployment (compose.yaml behind Traefik and Cloudflare).
#
#   npm run smoke:prod                       # DOMAIN and the key from the environment or .env
#   DOMAIN=api.example.com KEY=… scripts/smoke-prod.sh
#   SKIP_ORIGIN=1 npm run smoke:prod         # only the edge (e.g. from another machine)
#
# First the origin — Traefik on this host, reached at ORIGIN_IP (default 127.0.0.1) with the
# real SNI and Host (curl --resolve) and -k, bypassing Cloudflare — then the edge,
# https://$DOMAIN. For each: /healthz, the CORS preflight, /v1/models without a key (401 from
# ForwardAuth), and with KEY: /v1/models and a non-stream chat completion.
# KEY defaults to PROXY_API_KEY. The key is never printed (curl reads it from a private temp
# file). Exit status 1 on any failure, 2 on a usage error.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

# Read a variable from .env without executing the file (only when not set in the environment).
from_env_file () {
  local name=$1 line value
  [[ -f .env ]] || return 0
  line=$(grep -E "^[[:space:]]*(export[[:space:]]+)?${name}[[:space:]]*=" .env | tail -n 1) || return 0
  value=${line#*=}
  value=${value#"${value%%[![:space:]]*}"}   # ltrim
  value=${value%"${value##*[![:space:]]}"}   # rtrim
  if [[ $value == \"*\" || $value == \'*\' ]]; then value=${value:1:${#value}-2}; fi
  printf '%s' "$value"
}

DOMAIN=${DOMAIN:-$(from_env_file DOMAIN)}
KEY=${KEY:-${PROXY_API_KEY:-$(from_env_file PROXY_API_KEY)}}
ORIGIN_IP=${ORIGIN_IP:-127.0.0.1}
ORIGIN_PORT=${ORIGIN_PORT:-443}
MODEL=${SMOKE_MODEL:-codex-5}
CHAT_TIMEOUT=${SMOKE_CHAT_TIMEOUT:-120}

if [[ -z ${DOMAIN} ]]; then
  echo "FAIL: DOMAIN is not set (environment or .env)" >&2
  exit 2
fi
command -v curl >/dev/null || { echo "FAIL: curl is not installed" >&2; exit 2; }

failures=0
passes=0
pass () { passes=$((passes + 1)); echo "PASS  $*"; }
fail () { failures=$((failures + 1)); echo "FAIL  $*"; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The key goes to curl through a file, so it never shows in `ps`.
AUTH_HEADER_FILE="$TMP/auth-header"
( umask 077; printf 'Authorization: Bearer %s\n' "$KEY" > "$AUTH_HEADER_FILE" )

# request LABEL EXTRA_CURL_ARGS... → sets $status, body in $TMP/body, headers in $TMP/headers
request () {
  rm -f "$TMP/body" "$TMP/headers" "$TMP/curl-err"
  status=$(curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "${CURL_TARGET[@]}" "$@" 2>"$TMP/curl-err") || status=000
}

check_target () {
  local name=$1 base=$2
  echo "== $name ($base)"

  request --max-time 15 "$base/healthz"
  if [[ $status == 200 ]] && grep -q '"ok":true' "$TMP/body"; then pass "$name GET /healthz → 200"
  else fail "$name GET /healthz → $status $(head -c 200 "$TMP/body" 2>/dev/null) $(cat "$TMP/curl-err")"; fi

  request --max-time 15 -X OPTIONS "$base/v1/chat/completions" \
    -H 'Origin: https://smoke.example' \
    -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: authorization,content-type,x-stainless-os,x-stainless-retry-count,x-stainless-timeout'
  if [[ $status =~ ^2 ]] && grep -qi '^access-control-allow-origin:' "$TMP/headers" \
    && grep -i '^access-control-allow-headers:' "$TMP/headers" | grep -qi 'x-stainless-retry-count'; then
    pass "$name OPTIONS preflight → $status with CORS headers"
  else fail "$name OPTIONS preflight → $status without the expected CORS headers"; fi

  request --max-time 15 "$base/v1/models"
  if [[ $status == 401 ]] && grep -qi '^www-authenticate: *Bearer' "$TMP/headers"; then pass "$name GET /v1/models without key → 401"
  else fail "$name GET /v1/models without key → $status (expected 401 from ForwardAuth)"; fi

  if [[ -z ${KEY} ]]; then
    echo "SKIP  $name authenticated checks (no KEY / PROXY_API_KEY)"
    return
  fi

  request --max-time 15 -H "@$AUTH_HEADER_FILE" "$base/v1/models"
  if [[ $status == 200 ]] && grep -q '"codex-5"' "$TMP/body"; then pass "$name GET /v1/models with key → 200, lists codex-5"
  else fail "$name GET /v1/models with key → $status $(head -c 200 "$TMP/body" 2>/dev/null)"; fi

  request --max-time "$CHAT_TIMEOUT" -H "@$AUTH_HEADER_FILE" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"Reply with the single word: pong\"}]}" \
    "$base/v1/chat/completions"
  if [[ $status == 200 ]] && grep -Eq '"content" *: *"[^"]' "$TMP/body" && grep -q '"finish_reason"' "$TMP/body"; then
    pass "$name POST /v1/chat/completions ($MODEL, non-stream) → 200 with content"
  else fail "$name POST /v1/chat/completions → $status $(head -c 300 "$TMP/body" 2>/dev/null) $(cat "$TMP/curl-err")"; fi
}

if [[ ${SKIP_ORIGIN:-0} != 1 ]]; then
  CURL_TARGET=(-k --resolve "${DOMAIN}:${ORIGIN_PORT}:${ORIGIN_IP}")
  if [[ $ORIGIN_PORT == 443 ]]; then check_target origin "https://${DOMAIN}"
  else check_target origin "https://${DOMAIN}:${ORIGIN_PORT}"; fi
else
  echo "== origin skipped (SKIP_ORIGIN=1)"
fi

CURL_TARGET=()
check_target edge "https://${DOMAIN}"

echo "smoke:prod: ${passes} passed, ${failures} failed"
exit $(( failures > 0 ? 1 : 0 ))
