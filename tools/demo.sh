#!/usr/bin/env bash
# The demo: deploy the three example apps (static, Django, Flask) into a local systemd container
# with the real site playbook, then show where each answers and what it said.
#   tools/demo.sh          start (or reuse) the container and deploy; a second run changes nothing
#   tools/demo.sh clean    remove the container
set -euo pipefail
cd "$(dirname "$0")/.."
# ansible.cfg (collections path, pipelining) applies: this script runs in the checkout.
export PATH="$PWD/.venv/bin:$PATH"
[ -x .venv/bin/ansible-playbook ] || make setup
make -s link
name=pyweb-demo
platform=${PYWEB_PLATFORM:-debian12}
say() { printf '\n== %s\n' "$*"; }

if [ "${1:-}" = clean ]; then
  docker rm -f "$name" >/dev/null 2>&1 && echo "removed the demo container $name" || echo "no demo container"
  exit 0
fi

say "Docker engine, apt cache and the $platform image"
tools/ensure-docker.sh
tools/ensure-apt-cache.sh
tools/build-images.sh "$platform"

if ! docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null | grep -q true; then
  say "Starting the target container $name"
  docker rm -f "$name" >/dev/null 2>&1 || true
  mkdir -p /var/cache/pyweb-test/root-cache
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    -v /var/cache/pyweb-test/root-cache:/root/.cache:rw \
    --stop-signal SIGRTMIN+3 "pyweb-test:$platform" /lib/systemd/systemd >/dev/null
  for _ in $(seq 30); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 1
  done
fi

say "Deploying with playbooks/site.yml"
start=$(date +%s)
ansible-playbook -i inventories/demo playbooks/site.yml
echo "deployed in $(( $(date +%s) - start ))s"

address=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
say "Where each app answers (container $name at $address; add the names to /etc/hosts to browse)"
python3 - "$address" docs.demo.test blog.demo.test hello.demo.test <<'PY'
import re, socket, ssl, sys, http.client
address, domains = sys.argv[1], sys.argv[2:]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for domain in domains:
    try:
        sock = ctx.wrap_socket(socket.create_connection((address, 443), 10), server_hostname=domain)
        conn = http.client.HTTPSConnection(domain); conn.sock = sock
        conn.request("GET", "/", headers={"Host": domain}); resp = conn.getresponse()
        text = re.sub(r"<[^>]+>", " ", resp.read().decode("utf-8", "replace"))
        line = next((l.strip() for l in text.splitlines() if "hello" in l.lower()), "")
        print(f"  https://{domain + '/':<18} -> {resp.status}  {line}")
    except OSError as exc:
        print(f"  https://{domain + '/':<18} -> no answer ({exc})")
PY
echo
echo "Run 'make demo' again: nothing changes. 'make demo-clean' removes the container."
