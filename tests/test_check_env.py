"""tools/check_env.py names what is wrong with the environment and how to fix it."""
import subprocess
import sys

import pytest

# Each case runs check_env.py in a fresh interpreter after breaking one piece of the stack.
CASES = {
    'torch missing': ("sys.modules['torch'] = None", 'torch is missing'),
    'mmcv too new': ("import mmcv; mmcv.__version__ = '2.2.0'",
                     'mmcv 2.2.0 is installed, mmdet 3.3 needs 2.0.0rc4 <= mmcv < 2.2.0'),
    'mmcv without ops': ("sys.modules['mmcv.ops'] = None", 'has no compiled ops'),
    'no pkg_resources': ("sys.modules['pkg_resources'] = None", "pip install 'setuptools<70'"),
}


@pytest.mark.parametrize('case', CASES)
def test_bad_environment_gets_a_clear_message(case):
    breakage, message = CASES[case]
    code = (f'import sys, runpy; {breakage}; '
            "runpy.run_path('tools/check_env.py', run_name='__main__')")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
