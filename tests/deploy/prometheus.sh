#!/usr/bin/env bash
# The Prometheus files as Prometheus reads them: the configuration, the rules, and the rules'
# unit tests (each alert fires on what it is for and stays quiet on its near miss).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
P="$ROOT/deploy/prometheus"
promtool check config "$P/prometheus.yml" "$P/compose.yml"
promtool check rules "$P"/rules/*.yml
promtool test rules "$P"/tests/*.yml
