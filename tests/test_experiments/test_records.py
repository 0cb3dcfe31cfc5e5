"""Records: summaries against hand-computed values, section writes that keep the rest."""
import json

import pytest

from mmkd.experiments.records import (
    fmt_mean_std,
    gap_closed,
    mean_std,
    read_json,
    write_json_section,
    write_markdown_section,
)


def test_mean_and_sample_standard_deviation():
    mean, std = mean_std([41.0, 43.0, 45.0])
    assert mean == 43.0 and std == pytest.approx(2.0)  # sqrt((4 + 0 + 4) / 2)
    assert mean_std([7.0]) == (7.0, None)
    assert fmt_mean_std([41.0, 43.0, 45.0]) == '43.0 ± 2.0' and fmt_mean_std([7.0]) == '7.0'


def test_gap_closed_is_the_share_of_the_teacher_student_gap():
    assert gap_closed(kd=48.0, baseline=42.0, teacher=51.0) == pytest.approx(6 / 9)
    assert gap_closed(kd=40.0, baseline=42.0, teacher=51.0) == pytest.approx(-2 / 9)
    assert gap_closed(kd=48.0, baseline=42.0, teacher=42.0) is None  # no gap


def test_json_section_write_keeps_other_sections(tmp_path):
    path = str(tmp_path / 'results.json')
    write_json_section(path, 'overhead', dict(step_ratio=1.2))
    write_json_section(path, 'demo', dict(seeds=[0]))
    write_json_section(path, 'demo', dict(seeds=[0, 1]))
    assert read_json(path) == dict(overhead=dict(step_ratio=1.2), demo=dict(seeds=[0, 1]))
    assert not list(tmp_path.glob('*.tmp*'))
    (tmp_path / 'half.json').write_text('{"demo": ')
    assert read_json(str(tmp_path / 'half.json')) is None
    assert json.loads((tmp_path / 'results.json').read_text())['overhead']['step_ratio'] == 1.2


def test_markdown_section_replaced_between_markers(tmp_path):
    path = tmp_path / 'RESULTS.md'
    path.write_text('# Records\n\nintro\n')
    write_markdown_section(str(path), 'acc', 'table v1')
    write_markdown_section(str(path), 'other', 'more')
    write_markdown_section(str(path), 'acc', 'table v2')
    assert path.read_text() == ('# Records\n\nintro\n\n<!-- acc:begin -->\ntable v2\n'
                                '<!-- acc:end -->\n\n<!-- other:begin -->\nmore\n'
                                '<!-- other:end -->\n')
