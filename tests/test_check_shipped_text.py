"""tools/check_shipped_text.py flags words of how the work was organised and machine paths,
and passes what a shipped file legitimately holds."""
import importlib.util
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
spec = importlib.util.spec_from_file_location(
    'check_shipped_text', osp.join(REPO, 'tools', 'check_shipped_text.py'))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


@pytest.mark.parametrize('line, found', [
    ('measured in an earlier session', 'session'),
    ('Sessions of work', 'Sessions'),
    ('# the issue-9 study', 'issue-9'),
    ('all Issue 9 targets met', 'Issue 9'),
    ('see issue #12', 'issue #12'),
    ('fixes issue#3 and issues 4', 'issue#3'),
    ('branch issue_7', 'issue_7'),
    ('--results /work/main5.json', '/work/main5.json'),
    ('cd /work && make', '/work'),
    ('"path": "/root/.cache/x.pth"', '/root/.cache/x.pth'),
    ("home = '/home/alice/data'", '/home/alice/data'),
    ('(/Users/bob/repo)', '/Users/bob/repo'),
    ('--out /tmp/accuracy.png', '/tmp/accuracy.png'),
    ('`/tmp/x`', '/tmp/x'),
])
def test_flags(line, found):
    assert [hit[1] for hit in check.find_hits(line)][:1] == [found]


@pytest.mark.parametrize('line', [
    "@pytest.fixture(scope='session')",
    '@pytest.fixture(scope="session")',
    'sessionless and obsession',  # not the whole word
    'an issue with the anchors',
    'https://github.com/pypa/setuptools/issues/373',
    'issue9',
    'work_dirs/kd/epoch_12.pth and ./work/x and ../work/y',
    'https://example.org/work/page and https://example.org/root/',
    '~/work/mmkd and $HOME/work',
    '/workspace and /rooted',
    'data/tmp/x.json and /var/tmp/x',
    'TMPDIR defaults to /tmp, and /tmp/ is the folder',
    'tempfile.mkdtemp() or tmp_path / "x"',
])
def test_passes(line):
    assert list(check.find_hits(line)) == []


def test_line_numbers_and_several_hits_on_a_line():
    text = 'fine\n/work/a.json and /work/b.md in a session\n'
    assert list(check.find_hits(text)) == [
        (2, 'session', 'organisation word'),
        (2, '/work/a.json', 'machine path'), (2, '/work/b.md', 'machine path')]


def test_main_reports_file_and_line_and_skips_binary_files(tmp_path, capsys):
    bad, good, binary = tmp_path / 'bad.md', tmp_path / 'good.py', tmp_path / 'img.png'
    bad.write_text('# Results\n\nrun in an earlier session\n')
    good.write_text("import tempfile\nd = tempfile.mkdtemp()\n")
    binary.write_bytes(b'\x89PNG\0\0 /work/x session')
    (tmp_path / 'link').symlink_to(bad)
    files = [str(p) for p in (bad, good, binary, tmp_path / 'link')]
    assert check.main(files) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{bad}:3: 'session' (organisation word)"]
    assert '1 hit(s)' in err
    assert check.main([str(good), str(binary)]) == 0


def test_every_shipped_file_is_scanned_but_the_checks_own():
    files = check.shipped_files()
    assert {'Makefile', 'README.md', 'tools/train.py', 'tests/conftest.py'} <= set(files)
    assert not set(check.SELF) & set(files)
