#!/usr/bin/env bash
# The two-command start, part one: on a fresh Debian 12 machine as root, installs what is
# needed, brings up the lab (3 tiny libvirt guests), puts their clocks off by +37 s, -2 min and
# +1 h, runs playbooks/fleet-timesync.yaml against them and shows the report; then runs it once
# more to show that nothing is left to correct. The lab stays up: `npm run lab -- down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "system packages and the guest image"
bash scripts/lab.sh setup

step "node dependencies and build"
[[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]] || npm ci --no-audit --no-fund
npm run build --silent

step "the lab: 3 guests (software emulation here: about 10 s)"
bash scripts/lab.sh up 3

qga() { node bin/qga-play.js "$@"; }

step "putting the guests' clocks off: qgalab-1 +37 s, qgalab-2 -2 min, qgalab-3 +1 h"
for pair in qgalab-1:37 qgalab-2:-120 qgalab-3:3600; do
  vm=${pair%%:*} seconds=${pair#*:}
  request=$(node -e 'const s = Number(process.argv[1]); console.log(JSON.stringify({ execute: "guest-set-time", arguments: { time: (Date.now() + s * 1000) * 1e6 } }))' -- "$seconds")
  qga agent "$vm" "$request" >/dev/null
  echo "  $vm: $seconds s"
done

reports=qga-reports/fleet-timesync
step "qga-play run playbooks/fleet-timesync.yaml"
status=0
qga run playbooks/fleet-timesync.yaml --limit 'qgalab-[0-9]*' --report-dir "$reports" || status=$?
echo "exit code: $status"

step "the report: $reports/summary.json and one VM's time-sync result"
node -e '
const fs = require("fs"), dir = process.argv[1];
const s = JSON.parse(fs.readFileSync(dir + "/summary.json", "utf8"));
console.log(JSON.stringify(s.totals));
for (const v of s.vms) {
  const r = JSON.parse(fs.readFileSync(dir + "/" + v.report, "utf8"));
  const ts = r.steps.find((x) => x.kind === "time-sync");
  const res = ts && ts.result || {};
  console.log(`  ${r.vm}: ${ts ? ts.status : "-"}  before ${(res.offsetBeforeMs / 1000).toFixed(3)} s  after ${res.offsetAfterMs} ms (± ${res.errorBoundAfterMs} ms)  action ${res.action}`);
}' "$reports"

step "a second run at once: nothing to correct (action none)"
qga run playbooks/fleet-timesync.yaml --limit 'qgalab-[0-9]*' --report-dir "$reports" --quiet || status=$?

printf '\nReports in %s (summary.json, junit.xml, one JSON per VM).\n' "$reports"
printf 'Next: npm test   (the test suite, on this same lab)   |   npm run lab -- down   (stop the lab)\n'
exit "$status"
