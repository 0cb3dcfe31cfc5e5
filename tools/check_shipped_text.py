"""Fail on text that should not ship: words of how the work was organised, and machine paths.

Scans the files git tracks or would track (``git ls-files --cached --others
--exclude-standard``), or the files named on the command line, and prints ``file:line: 'text'
(rule)`` for each hit; exits 1 if there is any. Binary files (a NUL byte in the first 8 KiB),
symlinks and this script and its test (which spell the patterns out) are skipped.

Rules:

* ``session``, ``sessions``: the whole word, any case. Allowed: pytest's fixture scope,
  ``scope='session'``.
* ``issue <n>``, ``issue-<n>``, ``issue_<n>``, ``issue #<n>``, ``issue#<n>`` (any case, also
  ``issues``): a ticket number.
* Absolute machine paths: ``/work`` and ``/root`` as a path, ``/home/<user>``,
  ``/Users/<user>``, and ``/tmp/<name>``. A path only counts where it starts: the character
  before the slash is none of letter, digit, ``_ . - ~ /`` (so URLs, ``./work/`` and
  ``work_dirs/`` pass). A bare ``/tmp`` passes (a default for temporary files); a file under
  it does not. Temporary files in code come from ``tempfile`` or pytest's ``tmp_path``.

Usage: ``python tools/check_shipped_text.py [FILE ...]`` (``make lint`` runs it).
"""
import os.path as osp
import re
import subprocess
import sys
from typing import Iterator, List, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SELF = ('tools/check_shipped_text.py', 'tests/test_check_shipped_text.py')
RULES = (
    ('organisation word', re.compile(r'\bsessions?\b', re.IGNORECASE)),
    ('ticket number', re.compile(r'\bissues?(?:\s*#\s*|[\s_-]+#?)\d+', re.IGNORECASE)),
    ('machine path', re.compile(
        r'(?<![\w.~/-])(?:/(?:work|root)(?![\w.-])|/(?:home|Users|tmp)/(?=[\w.-]))'
        r'[^\s\'"`<>()\[\]{},;]*')),
)
ALLOWED = re.compile(r'''scope\s*=\s*['"]session['"]''')  # pytest's fixture scope


def find_hits(text: str) -> Iterator[Tuple[int, str, str]]:
    """Yield ``(line number, matched text, rule)`` for each hit in ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        line = ALLOWED.sub(lambda m: ' ' * len(m.group()), line)
        for rule, pattern in RULES:
            for match in pattern.finditer(line):
                yield number, match.group(), rule


def read_text(path: str) -> Optional[str]:
    """The file's text, or None for a binary file, a symlink or something not a file."""
    if osp.islink(path) or not osp.isfile(path):
        return None
    with open(path, 'rb') as f:
        data = f.read()
    if b'\0' in data[:8192]:
        return None
    return data.decode('utf-8', errors='replace')


def shipped_files() -> List[str]:
    """Files git tracks or would track, relative to the repository, without this check's own."""
    out = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
        capture_output=True, check=True).stdout.decode()
    return sorted({name for name in out.split('\0') if name and name not in SELF})


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    files = argv or [osp.join(ROOT, name) for name in shipped_files()]
    hits = 0
    for path in files:
        text = read_text(path)
        if text is None:
            continue
        shown = osp.relpath(path, ROOT) if not argv else path
        for number, found, rule in find_hits(text):
            print(f'{shown}:{number}: {found!r} ({rule})')
            hits += 1
    if hits:
        print(f'{hits} hit(s): shipped text speaks to users about the project; name no machine '
              'path and nothing of how the work was organised (tools/check_shipped_text.py)',
              file=sys.stderr)
    return 1 if hits else 0


if __name__ == '__main__':
    sys.exit(main())
