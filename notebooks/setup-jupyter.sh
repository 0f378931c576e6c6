#!/usr/bin/env bash
# Sets a Debian 12 machine up to open ArchLab's notebooks in Jupyter and VS Code (`./archlab notebook setup` runs this):
#   1. apt: jupyter-nbconvert, python3-nbclient, jupyter-client (headless execution, kernel registration), and unless
#      --headless also jupyter-notebook (the browser UI) and chromium (PNG images of charts);
#   2. the dotnet tool Microsoft.dotnet-interactive 1.0.712001 (global, ~/.dotnet/tools);
#   3. `dotnet interactive jupyter install` (kernels .net-csharp, .net-fsharp, .net-powershell), then the .net-csharp
#      kernelspec is made to start the tool by its full path (no PATH change needed) with ArchLab's GC settings
#      (DOTNET_gcConcurrent=0, DOTNET_GCgen0size=0x20000000: see README "Platform");
#   4. builds ArchLab (Release): the notebooks' first cell references src/ArchLab.Cli/bin/Release/net10.0/.
# Idempotent: what is already there is kept. Needs root only when a Debian package is missing.
# Exit codes: 0 ready; 3 packages missing and not root; 4 apt or NuGet unreachable; 1 anything else.
set -euo pipefail
log() { echo "notebook setup: $*" >&2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
headless=0
[[ "${1:-}" == "--headless" ]] && headless=1

packages=(jupyter-nbconvert python3-nbclient jupyter-client)
[[ $headless == 0 ]] && packages+=(jupyter-notebook chromium)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if (( ${#missing[@]} > 0 )); then
  if [[ "$(id -u)" != 0 ]]; then log "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"; exit 3; fi
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/archlab-notebook-apt.log 2>&1; then
    apt-get update -q >>/tmp/archlab-notebook-apt.log 2>&1 || { log "apt unreachable (see /tmp/archlab-notebook-apt.log)"; exit 4; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/archlab-notebook-apt.log 2>&1 \
      || { log "apt-get install failed (see /tmp/archlab-notebook-apt.log)"; exit 4; }
  fi
fi

tool="$HOME/.dotnet/tools/dotnet-interactive"
if [[ ! -x "$tool" ]]; then
  log "installing the dotnet tool Microsoft.dotnet-interactive 1.0.712001"
  dotnet tool install -g Microsoft.dotnet-interactive --version 1.0.712001 >/tmp/archlab-notebook-tool.log 2>&1 \
    || { log "dotnet tool install failed (see /tmp/archlab-notebook-tool.log)"; exit 4; }
fi

spec_dir() { jupyter kernelspec list --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['kernelspecs'].get('.net-csharp',{}).get('resource_dir',''))"; }
if [[ -z "$(spec_dir)" ]]; then
  log "registering the .NET Interactive kernels with Jupyter"
  PATH="$PATH:$HOME/.dotnet/tools" "$tool" jupyter install >/tmp/archlab-notebook-kernel.log 2>&1 \
    || { log "kernel registration failed (see /tmp/archlab-notebook-kernel.log)"; exit 1; }
fi
python3 - "$(spec_dir)/kernel.json" "$tool" <<'PY'
import json, sys
path, tool = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
argv = spec["argv"]
if argv[:2] == ["dotnet", "interactive"]:
    spec["argv"] = [tool] + argv[2:]
spec.setdefault("env", {}).update({"DOTNET_gcConcurrent": "0", "DOTNET_GCgen0size": "0x20000000"})
json.dump(spec, open(path, "w"), indent=2)
PY
log "kernel .net-csharp: $(spec_dir)"

log "building ArchLab (Release) for the notebooks' first cell"
dotnet build "$here/src/ArchLab.Cli/ArchLab.Cli.csproj" -c Release -nologo -v q >/tmp/archlab-notebook-build.log 2>&1 \
  || { cat /tmp/archlab-notebook-build.log >&2; exit 1; }
touch "$here/src/ArchLab.Cli/bin/Release/net10.0/ArchLab.Cli.dll" # ./archlab's up-to-date check
log "ready: jupyter nbconvert --to notebook --execute notebooks/01-quickstart.ipynb, or open notebooks/ in VS Code or Jupyter"
