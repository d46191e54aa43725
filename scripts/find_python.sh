#!/usr/bin/env bash
# Prints the path of a working CPython MAJOR.MINOR interpreter, or exits 1 printing nothing.
# Looked for, in order: pythonMAJOR.MINOR on PATH (a pyenv shim counts only if it runs), pyenv's newest
# MAJOR.MINOR.x, the versions under $PYENV_ROOT (pyenv itself need not be on PATH), then /usr/local/bin and /usr/bin.
set -uo pipefail
version="${1:?usage: scripts/find_python.sh MAJOR.MINOR}"

runs_version() {
	[ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$version" ]
}

candidates=()
if on_path="$(command -v "python$version")"; then candidates+=("$on_path"); fi
if command -v pyenv >/dev/null 2>&1 && prefix="$(pyenv prefix "$version" 2>/dev/null)"; then
	candidates+=("$prefix/bin/python$version")
fi
while IFS= read -r installed; do
	candidates+=("$installed/bin/python$version")
done < <(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".* 2>/dev/null | sort --version-sort --reverse)
candidates+=("/usr/local/bin/python$version" "/usr/bin/python$version")

for candidate in "${candidates[@]}"; do
	if runs_version "$candidate"; then
		echo "$candidate"
		exit 0
	fi
done
exit 1
