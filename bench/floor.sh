#!/usr/bin/env bash
# The floor for a first converge: bring fresh nodes to the state that
# playbooks/site.yml leaves, with the fewest steps a plain script needs.
# Every node runs at once. Each gets one `apt-get update`, one
# `apt-get install` of the packages the converge installed, and a copy of the
# files the converge wrote. Then a few commands make the same running state:
# Apache modules, sites and confs, an Apache restart, the firewall unit and
# an nginx reload.
#
#   bench/floor.sh STATE_DIR
#
# STATE_DIR has one folder per node, named after its container, as
# bench/converge-speed writes it from converged nodes:
#   group           web or balancer
#   packages        packages to install, one a line
#   apache-mods, apache-sites, apache-confs
#                   (web) the names enabled on the converged node, one a line
#   units           unit files under root/etc/systemd/system to enable and
#                   start, one a line
#   root/           the files to copy, as paths under /
# Prints one line of timings per node. Exits non-zero when any node failed.
set -euo pipefail

# The dpkg options that Ansible's apt module passes by default. They keep a
# configuration file that exists before its package, like /etc/memcached.conf.
apt_options=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

now() { printf '%s' "$EPOCHREALTIME"; }

# Print the seconds from $1 to now with one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Run a command in a node. Its output is printed only when it fails, because
# apt and a2enmod print normal progress on both stdout and stderr.
in_node() {
  local node=$1 output
  shift
  if ! output=$(docker exec -e DEBIAN_FRONTEND=noninteractive "$node" "$@" 2>&1); then
    printf '%s: %s failed:\n%s\n' "$node" "$*" "$output" >&2
    return 1
  fi
}

# Copy the node's files in one tar stream. --no-overwrite-dir keeps the
# owner and mode of directories that exist already, such as /etc.
copy_files() {
  local node=$1 source=$2
  tar --numeric-owner -C "$source" -c . | docker exec -i "$node" tar --no-overwrite-dir -C / -x
}

# Make the enabled Apache modules, sites and confs equal to the converged
# node's and restart Apache. Then load the copied units and drop-ins, and
# enable and start the roles' own units, whose firewall unit applies the
# rules. memcached keeps running, because it started with the copied
# configuration.
# shellcheck disable=SC2016 # expanded inside the node
web_commands='
set -euo pipefail
sync_enabled() {
  local kind=$1 dir=$2 ext=$3 wanted=$4 force=$5 path name
  for path in /etc/apache2/"$dir"/*"$ext"; do
    [ -e "$path" ] || [ -L "$path" ] || continue
    name=$(basename "$path" "$ext")
    grep -qxF -- "$name" <<<"$wanted" || a2dis"$kind" -q $force "$name"
  done
  # shellcheck disable=SC2086
  [ -z "$wanted" ] || a2en"$kind" -q $wanted
}
sync_enabled mod mods-enabled .load "$1" -f
sync_enabled site sites-enabled .conf "$2" ""
sync_enabled conf conf-enabled .conf "$3" ""
systemctl restart apache2
systemctl daemon-reload
# shellcheck disable=SC2086
[ -z "$4" ] || systemctl enable --now --quiet $4
'

# The nginx counterpart: drop the packaged default site, load any copied
# units, and reload nginx with the copied configuration.
# shellcheck disable=SC2016 # expanded inside the node
balancer_commands='
set -eu
rm -f /etc/nginx/sites-enabled/default
systemctl daemon-reload
systemctl reload nginx
# shellcheck disable=SC2086
[ -z "$1" ] || systemctl enable --now --quiet $1
'

# Bring one node to its converged state and print its timings. Runs in the
# background, once per node.
floor_node() {
  local node=$1 dir=$2 group=$3 start mark t_update t_install t_rest packages
  start=$(now)
  if [ "$group" = web ]; then
    # The memcached configuration goes in first, as in playbooks/web.yml, so
    # the daemon that the package starts already uses it.
    docker cp "$dir/root/etc/memcached.conf" "$node:/etc/memcached.conf"
  fi

  mark=$(now)
  in_node "$node" apt-get update -qq
  t_update=$(since "$mark")
  mark=$(now)
  mapfile -t packages <"$dir/packages"
  in_node "$node" apt-get install -y -qq "${apt_options[@]}" "${packages[@]}"
  t_install=$(since "$mark")

  mark=$(now)
  copy_files "$node" "$dir/root"
  if [ "$group" = web ]; then
    in_node "$node" bash -c "$web_commands" floor \
      "$(cat "$dir/apache-mods")" "$(cat "$dir/apache-sites")" "$(cat "$dir/apache-confs")" "$(cat "$dir/units")"
  else
    in_node "$node" sh -c "$balancer_commands" floor "$(cat "$dir/units")"
  fi
  t_rest=$(since "$mark")
  printf '%-12s %-9s update %5ss  install %5ss  files+commands %5ss  total %5ss\n' \
    "$node" "$group" "$t_update" "$t_install" "$t_rest" "$(since "$start")"
}

# Exit with status 2 unless $1 is a node folder that floor_node can use.
validate_node_dir() {
  local dir=$1 node group file required
  node=$(basename "$dir")
  required=(group packages units root)
  for file in "${required[@]}"; do
    if [ ! -e "$dir/$file" ]; then
      echo "error: $dir/$file is missing; see the layout in bench/floor.sh --help" >&2
      exit 2
    fi
  done
  group=$(cat "$dir/group")
  case "$group" in
    web) required=(apache-mods apache-sites apache-confs root/etc/memcached.conf) ;;
    balancer) required=() ;;
    *)
      echo "error: $dir/group is '$group'; use web or balancer" >&2
      exit 2
      ;;
  esac
  for file in "${required[@]}"; do
    if [ ! -e "$dir/$file" ]; then
      echo "error: $dir/$file is missing; see the layout in bench/floor.sh --help" >&2
      exit 2
    fi
  done
  if ! docker inspect --type container "$node" >/dev/null 2>&1; then
    echo "error: container '$node' not found; create fresh nodes first" >&2
    exit 2
  fi
}

main() {
  case "${1:-}" in
    -h | --help)
      usage
      exit 0
      ;;
  esac
  if [ $# -ne 1 ]; then
    usage >&2
    exit 2
  fi
  local state=$1 dir
  if [ ! -d "$state" ]; then
    echo "error: state directory '$state' not found; bench/converge-speed writes it" >&2
    exit 2
  fi
  local dirs=()
  for dir in "$state"/*/; do
    dirs+=("${dir%/}")
  done
  if [ ! -d "${dirs[0]}" ]; then
    echo "error: no node folders in '$state'" >&2
    exit 2
  fi
  # Every folder is checked before any node changes.
  for dir in "${dirs[@]}"; do
    validate_node_dir "$dir"
  done

  local pids=() nodes=() node
  for dir in "${dirs[@]}"; do
    node=$(basename "$dir")
    floor_node "$node" "$dir" "$(cat "$dir/group")" &
    pids+=($!)
    nodes+=("$node")
  done

  local failed=0 i
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "error: the floor steps failed on ${nodes[$i]}" >&2
      failed=1
    fi
  done
  return "$failed"
}

main "$@"; exit $?
