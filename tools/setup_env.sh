#!/usr/bin/env bash
# Creates .venv in the repository and installs mmkd with its OpenMMLab stack.
# Idempotent: a second run checks the environment and returns in seconds.
#
#   MMKD_TORCH   torch requirement to install when torch is missing (default: torch==2.13.0,
#                the CPU build). Users with a GPU: create .venv with their own CUDA torch
#                first (or set MMKD_TORCH), this script keeps a torch that is already there.
#   MMKD_WHEELS  extra folder of prebuilt wheels (default: ../shared/wheels/cpu-py311 if present).
#   PYTHON       interpreter used to create the venv (default: python3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
py="$venv/bin/python"
stamp="$venv/.mmkd-setup-ok"
cd "$root"

if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt requirements.txt ] \
    && "$py" tools/check_env.py >/dev/null 2>&1; then
    exit 0
fi

[ -x "$py" ] || "${PYTHON:-python3}" -m venv "$venv"
# pip install, without the noise of index locations this machine's pip.conf may name, nor
# pip's complaint that torch >= 2.6 asks setuptools >= 77 (metadata only; we keep < 70 for
# pkg_resources, which mmengine needs to resolve mmdet:: config names).
run_pip() {
    "$py" -m pip install --disable-pip-version-check -q "$@" 2>&1 \
        | { grep -vE "^WARNING: Location '.*' is ignored|^ERROR: pip's dependency resolver \
does not currently|^This behaviour is the source of|requires setuptools>=.*which is \
incompatible" || true; }
    return "${PIPESTATUS[0]}"
}
wheels=${MMKD_WHEELS:-$root/../shared/wheels/cpu-py311}
links=()
[ -d "$wheels" ] && links=(--find-links "$wheels")

if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "[setup] installing ${MMKD_TORCH:-torch==2.13.0} (CPU build on this machine)"
    run_pip "${MMKD_TORCH:-torch==2.13.0}"
fi
# After torch, which pulls a newer setuptools: mmcv's setup.py and mmengine (to resolve
# mmdet:: config names) need pkg_resources, which setuptools >= 70 no longer ships.
run_pip 'setuptools<70' wheel
if ! "$py" -c 'import mmcv, mmcv.ops' 2>/dev/null; then
    if [ ${#links[@]} -gt 0 ] && ls "$wheels"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        echo "[setup] installing mmcv 2.1.0 from the wheel cache $wheels"
    else
        echo "[setup] building mmcv 2.1.0 with ops from source (about 13 minutes on 2 cores)"
    fi
    MMCV_WITH_OPS=1 run_pip --no-build-isolation "${links[@]}" mmcv==2.1.0
fi
echo "[setup] installing mmengine, mmdet, mmkd"
run_pip "${links[@]}" -r requirements.txt
run_pip --no-deps --no-build-isolation -e .
"$py" tools/check_env.py
touch "$stamp"
