"""Records: summaries against hand-computed values, section writes that keep the rest."""
import json

import pytest

from mmkd.experiments.records import (
    fmt_mean_std,
    gap_closed,
    mean_std,
    read_json,
    write_json_section,
    write_text,
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


def test_text_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'new' / 'RESULTS.md'
    write_text(str(path), '# Records\n\ntable v1\n')
    write_text(str(path), '# Records\n\ntable v2\n')
    assert path.read_text() == '# Records\n\ntable v2\n'
    assert [p.name for p in path.parent.iterdir()] == ['RESULTS.md']
