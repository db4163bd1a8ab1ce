# find_python VERSION: print the path of a working pythonVERSION (PATH first, then pyenv's versions).
# Sourced by scripts/test.sh and bench/setup.sh. pyenv shims on PATH can exist without working, so each
# candidate is run once.
find_python() {
    local version=$1 candidate
    for candidate in "python$version" $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/"python$version" 2>/dev/null | sort -V -r); do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate"; return 0
        fi
    done
    echo "python$version not found (install it, e.g. with pyenv)" >&2
    return 1
}
