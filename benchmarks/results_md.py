"""benchmarks/RESULTS.md from benchmarks/results.json: one section per record, titled by the
question the record answers, with its command, device, date and one table.

    python benchmarks/results_md.py      # after editing benchmarks/results.json by hand

The benchmark scripts (bccd_accuracy.py, overhead.py, tools/demo.py) run the same after
writing their record. Each kind of record is drawn by the script that writes it (its
``markdown(record, name)``); a record of another kind gets a table of its values. A record's
``question`` titles its section (else its name does); ``answer`` and ``note``, written by hand
once a measurement is in, are shown above its table.
"""
import argparse
import os.path as osp
import sys
from typing import Callable, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
sys.path[:0] = [p for p in (ROOT, HERE) if p not in sys.path]  # mmkd, the benchmark scripts

from mmkd.experiments.records import read_json, write_text  # noqa: E402

RESULTS = osp.join(HERE, 'results.json')
HEADER = """# mmkd benchmark records

Generated from `benchmarks/results.json` by `python benchmarks/results_md.py`, which the
benchmark scripts run after writing their record: edit the JSON, not this file. Each section
is one record: the question it answers, the command that made it, the device and the date.

mAP is COCO bbox mAP in percent on the test split; mean ± sample standard deviation over the
seeds; gap closed = (variant - baseline) / (teacher - baseline). Variant names are those of
`benchmarks/bccd_accuracy.py` when the record was made: where they meant something else then,
the record's note says what they are called today. Numbers move with the machine and the
thread count: compare variants within one record.
"""


def heading(name: str, record: dict, details: str = '') -> List[str]:
    """The lines that open a record's section: title (its question, else its name), answer,
    command, record name, date, device, versions, ``details`` and note."""
    lines = [f"## {record.get('question') or name}", '']
    if record.get('answer'):
        lines += [record['answer'], '']
    if record.get('command'):
        lines += ['```', record['command'], '```', '']
    about = f"Record `{name}`, {record.get('date', 'undated')}, {record.get('device', '?')}"
    if record.get('versions'):
        about += '; ' + ', '.join(f'{k} {v}' for k, v in record['versions'].items())
    lines += [f'{about}.' + (f' {details}' if details else ''), '']
    if record.get('note'):
        lines += [f"Note: {record['note']}", '']
    return lines


def values_table(record: dict, name: str) -> str:
    """A record of no known kind: its heading and its other plain values."""
    shown = ('question', 'answer', 'command', 'date', 'device', 'versions', 'note')
    lines = heading(name, record) + ['| field | value |', '|---|---|']
    lines += [f'| {key} | {value} |' for key, value in record.items()
              if key not in shown and not isinstance(value, (dict, list))]
    return '\n'.join(lines) + '\n'


def renderer(record: dict) -> Callable[[dict, str], str]:
    """The ``markdown(record, name)`` of the script that writes this kind of record."""
    if 'variants' in record:  # a BCCD study
        from bccd_accuracy import markdown
    elif 'step_ratio' in record:
        from overhead import markdown
    elif 'pairs' in record:  # overhead.py --floor
        from overhead import floor_markdown as markdown
    elif 'kd_map' in record:  # the demo
        tools = osp.join(ROOT, 'tools')
        if tools not in sys.path:
            sys.path.append(tools)
        from demo import markdown
    else:
        markdown = values_table
    return markdown


def render(results: dict) -> str:
    """The whole of RESULTS.md: header, the questions, then one section per record."""
    index = [f"- `{name}`: {record.get('question') or name}" for name, record in results.items()]
    sections = [renderer(record)(record, name) for name, record in results.items()]
    return '\n'.join([HEADER, 'Records:', '', *index, '', *sections]).rstrip('\n') + '\n'


def write_results_md(results_path: str, markdown_path: Optional[str] = None) -> str:
    """Render ``results_path`` into ``markdown_path`` (default: RESULTS.md beside it)."""
    markdown_path = markdown_path or osp.join(osp.dirname(results_path), 'RESULTS.md')
    write_text(markdown_path, render(read_json(results_path) or {}))
    return markdown_path


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--results', default=RESULTS)
    parser.add_argument('--markdown', help='default: RESULTS.md beside --results')
    args = parser.parse_args(argv)
    print(write_results_md(args.results, args.markdown))


if __name__ == '__main__':
    main()
