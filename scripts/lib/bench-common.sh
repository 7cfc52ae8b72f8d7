# Sourced by the bench scripts.

# nftables tables of other Gatehouses (running, or killed hard and not yet cleaned up) hook every
# packet on the host, the peers' included: a run beside them measures them too (docs/performance.md,
# "Tables left behind"). Says so; a Gatehouse start removes those whose owner and instances are gone.
warn_about_port_tables() {
  [[ $(id -u) == 0 ]] && command -v nft >/dev/null || return 0
  local count
  count=$(nft list tables 2>/dev/null | grep -c '^table inet gatehouse_' || true)
  if ((count > 0)); then
    echo "warning: $count gatehouse_ nftables table(s) on this host before the run (nft list tables): each hooks every packet, the peers' too" >&2
  fi
}

# write_hello_function FILE SCRIPT: the Function that runs the shared nginx "hello" upstream
# (SCRIPT, ../shared/bench/lib/hello-function.sh or a copy), kept warm, one instance (the peers
# have one upstream too).
write_hello_function() {
  cat >"$1" <<YAML
apiVersion: gatehouse.dev/v1
kind: Function
metadata: {name: hello, namespace: default}
spec:
  process: {command: ["$2"]}
  scaling: {minInstances: 1, maxInstances: 1}
YAML
}
