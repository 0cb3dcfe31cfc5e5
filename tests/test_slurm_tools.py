"""tools/slurm_train.sh and slurm_test.sh: valid bash, and the srun command line they build
(a stand-in srun prints it; no cluster needed)."""
import os
import os.path as osp
import subprocess

import pytest

TOOLS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')
FAKE_SRUN = '#!/bin/sh\nprintf "%s\\n" "PYTHONPATH=$PYTHONPATH" "$@"\n'


@pytest.mark.parametrize('name', ['slurm_train.sh', 'slurm_test.sh'])
def test_slurm_script_is_valid_executable_bash(name):
    path = osp.join(TOOLS, name)
    assert os.access(path, os.X_OK)
    subprocess.run(['bash', '-n', path], check=True)


@pytest.mark.parametrize('name, tool, fourth, out', [
    ('slurm_train.sh', 'train.py', 'work', ['--work-dir=work']),
    ('slurm_test.sh', 'test.py', 'epoch_12.pth', ['epoch_12.pth']),
])
def test_slurm_script_runs_this_repositorys_tool(name, tool, fourth, out, tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(FAKE_SRUN)
    (bin_dir / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', GPUS='2',
               GPUS_PER_NODE='2', PYTHON='python3', SRUN_ARGS='--quotatype=auto --time=1')
    proc = subprocess.run(
        [osp.join(TOOLS, name), 'gpu', 'kd', 'my config.py', fourth, '--cfg-options', 'a=1'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, check=True)
    argv = proc.stdout.splitlines()
    assert argv[0].startswith(f'PYTHONPATH={TOOLS}/..')  # this checkout's mmkd first
    assert argv[1:11] == [
        '-p', 'gpu', '--job-name=kd', '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', '--quotatype=auto', '--time=1']
    assert argv[11:] == ['python3', '-u', osp.join(TOOLS, tool), 'my config.py', *out,
                         '--launcher=slurm', '--cfg-options', 'a=1']
