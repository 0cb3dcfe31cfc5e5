# Copyright (c) mmkd contributors. All rights reserved.
"""What a teacher-student pair allows, decided once when the detector is built.

The defaults fit the pair (``'auto'``): hints through an adapter only where the necks differ
in width or the teacher sees a higher resolution, on the FPN levels both have (matched by
stride); the RPN distilled where the
teacher has the student's anchors (on a level of the same stride, or of a finer grid); the
heads inherited only where their weights fit and their box coding is the same. An option set
explicitly always wins, and what cannot work is refused here, with the option that fixes it,
before any training. docs/method.md says why.
"""
import copy
import os.path as osp
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.dense_heads import RPNHead
from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.utils import ConfigType
from mmengine.config import Config, ConfigDict
from torch.nn import Module

TeacherConfig = Union[ConfigType, str, Path]
AUTO = 'auto'
PAPER_ADAPTER = dict(type='FeatureAdapter', kernel_size=1)


def teacher_model_config(teacher_config: TeacherConfig) -> ConfigDict:
    """The teacher's model config from a path, an ``mmdet::`` name or a dict."""
    if isinstance(teacher_config, (str, Path)):
        name = str(teacher_config)
        if '::' in name:
            from mmengine.hub import get_config
            teacher_config = get_config(name)
        elif not osp.isfile(name):
            raise FileNotFoundError(f"teacher_config '{name}' not found: give a config "
                                    "file, an 'mmdet::' config name or a dict")
        else:
            teacher_config = Config.fromfile(name)
    if 'model' in teacher_config:
        teacher_config = teacher_config['model']
    return ConfigDict(copy.deepcopy(teacher_config))


def check_supported(detector: Module, role: str) -> None:
    """Refuse what the data flow of ``loss()`` does not cover.

    The student needs a ``StandardRoIHead`` (Faster / Mask R-CNN) regressing deltas; the
    teacher may also be a ``CascadeRoIHead`` (Cascade / Cascade Mask R-CNN).
    """
    rpn_head = getattr(detector, 'rpn_head', None)
    if not isinstance(rpn_head, RPNHead) or not rpn_head.use_sigmoid_cls:
        raise TypeError(f'{role} needs an RPNHead with a sigmoid objectness, got '
                        f'{type(rpn_head).__name__}')
    roi_head = getattr(detector, 'roi_head', None)
    supported = (StandardRoIHead, ) if role == 'student' else (StandardRoIHead,
                                                               CascadeRoIHead)
    if type(roi_head) not in supported:
        names = ' or '.join(cls.__name__ for cls in supported)
        raise TypeError(f'{role} RoI head {type(roi_head).__name__} is not supported: '
                        f'mmkd distils a {names} {role}')
    if role == 'student' and roi_head.bbox_head.reg_decoded_bbox:
        raise TypeError('student bbox head regresses decoded boxes (reg_decoded_bbox); '
                        "the regression terms compare encoded deltas")


def last_bbox_head(detector: Module) -> Module:
    bbox_head = detector.roi_head.bbox_head
    return bbox_head[-1] if isinstance(bbox_head, torch.nn.ModuleList) else bbox_head


def roi_channels(detector: Module) -> int:
    extractor = detector.roi_head.bbox_roi_extractor
    extractor = extractor[0] if isinstance(extractor, torch.nn.ModuleList) else extractor
    return extractor.out_channels


def neck_channels(detector: Module) -> int:
    return detector.rpn_head.in_channels


def check_classes(student: Module, teacher: Module) -> None:
    s_classes = last_bbox_head(student).num_classes
    t_classes = last_bbox_head(teacher).num_classes
    if s_classes != t_classes:
        raise ValueError(f'teacher has {t_classes} classes, student {s_classes}: '
                         'distillation needs the same classes, in the same order')


def level_map(student: Module, teacher: Module, downsample: int) -> Dict[int, int]:
    """Student FPN level -> the teacher's level of ``downsample`` times its stride."""
    t_strides = [tuple(s) for s in teacher.rpn_head.prior_generator.strides]
    mapping = {}
    for level, stride in enumerate(student.rpn_head.prior_generator.strides):
        wanted = tuple(s * downsample for s in stride)
        if wanted in t_strides:
            mapping[level] = t_strides.index(wanted)
    return mapping


def rpn_level_map(student: Module, teacher: Module,
                  downsample: int) -> Dict[int, Tuple[int, int]]:
    """Student FPN level -> ``(teacher level, step)``: the teacher's level with the
    student's anchors in image pixels, on a grid ``step`` times as fine (its stride times
    ``step`` is the student's times ``downsample``), so that every ``step``-th cell of its
    RPN outputs scores exactly the student's anchors. The level of the same stride first.
    A student at a lower resolution with anchors for its input meets the teacher's
    finer levels this way."""
    s_gen, t_gen = student.rpn_head.prior_generator, teacher.rpn_head.prior_generator
    mapping = {}
    for s_level, (s_anchors, s_stride) in enumerate(zip(s_gen.base_anchors, s_gen.strides)):
        found = []
        for t_level, (t_anchors, t_stride) in enumerate(zip(t_gen.base_anchors,
                                                            t_gen.strides)):
            steps = {s * downsample / t for s, t in zip(s_stride, t_stride)}
            if len(steps) != 1 or next(iter(steps)) % 1 or next(iter(steps)) < 1:
                continue
            t_anchors = t_anchors / downsample
            if t_anchors.shape == s_anchors.shape and torch.allclose(t_anchors, s_anchors):
                found.append((int(next(iter(steps))), t_level))
        if found:
            step, t_level = min(found)
            mapping[s_level] = (t_level, step)
    return mapping


def rpn_anchors(rpn_levels: Dict[int, Tuple[int, int]]) -> Tuple[bool, str]:
    """Whether the teacher's RPN scores the student's anchors on some level, and how."""
    if not rpn_levels:
        return False, ('the anchors differ (anchor_generator scales, ratios or strides) at '
                       'every level')
    if all(step == 1 for _, step in rpn_levels.values()):
        return True, 'same anchors'
    levels = sorted(rpn_levels)
    steps = '/'.join(sorted({str(rpn_levels[lvl][1]) for lvl in levels}))
    return True, (f'student levels {levels} on teacher levels '
                  f'{[rpn_levels[lvl][0] for lvl in levels]}, a {steps}x finer grid')


def resolve_distill_rpn(distill_rpn: Union[bool, str], anchors: Tuple[bool, str]) -> bool:
    same, reason = anchors
    if distill_rpn == AUTO:
        return same
    if distill_rpn and not same:
        raise ValueError(f'distill_rpn=True, but {reason}: the RPN is distilled on the '
                         "same anchors; set distill_rpn='auto' or False")
    return bool(distill_rpn)


def coders_equal(a: Module, b: Module) -> bool:
    """Whether two box coders encode alike (same class and settings)."""
    return type(a) is type(b) and vars(a) == vars(b)


def resolve_adapter(adapter: Union[ConfigType, str, None], s_channels: int, t_channels: int,
                    term: str, downsample: int = 1) -> Optional[dict]:
    """``'auto'``: the paper's 1x1 adapter where the widths differ or the teacher sees a
    higher resolution (``downsample > 1``: its features come from another level of its
    FPN), none otherwise."""
    if adapter == AUTO:
        same = s_channels == t_channels and downsample == 1
        return None if same else dict(PAPER_ADAPTER)
    if adapter is None and s_channels != t_channels:
        raise ValueError(f'{term} without an adapter needs the same channels, but the '
                         f'student has {s_channels} and the teacher {t_channels}: set '
                         f"adapter=dict(type='FeatureAdapter', kernel_size=1) or 'auto'")
    return None if adapter is None else copy.deepcopy(adapter)


def misfit(student: Module, teacher: Module, name: str) -> Optional[str]:
    """Why ``name`` cannot be copied from the teacher to the student, or None."""
    modules = []
    for role, detector in (('student', student), ('teacher', teacher)):
        try:
            modules.append(detector.get_submodule(name))
        except AttributeError:
            return f"the {role} has no module '{name}'"
    s_state, t_state = (m.state_dict() for m in modules)
    if s_state.keys() != t_state.keys():
        return (f"'{name}' differs between student and teacher: "
                f'{sorted(s_state.keys() ^ t_state.keys())[:3]}')
    for key, value in s_state.items():
        if value.shape != t_state[key].shape:
            return (f"'{name}.{key}' is {tuple(value.shape)} in the student and "
                    f'{tuple(t_state[key].shape)} in the teacher')
    return None


def resolve_inherit(inherit: Union[Sequence[str], str], student: Module, teacher: Module,
                    rpn_distilled: bool, same_rcnn_coder: bool) -> List[str]:
    """``'auto'``: the RPN head where the RPN is distilled on the same grid
    (``rpn_distilled``), the R-CNN head (or its box head, beside a mask head) where the
    weights fit and the box coding is the same."""
    if inherit != AUTO:
        for name in inherit:
            reason = misfit(student, teacher, name)
            if reason is not None:
                raise ValueError(f'inherit_teacher: {reason}; set inherit_teacher=() or '
                                 "'auto', or name only modules that fit")
        return list(inherit)
    names = []
    if rpn_distilled and misfit(student, teacher, 'rpn_head') is None:
        names.append('rpn_head')
    if same_rcnn_coder:
        for name in ('roi_head', 'roi_head.bbox_head'):
            if misfit(student, teacher, name) is None:
                names.append(name)
                break
    return names


def describe(levels: Dict[int, int], hint_levels: Sequence[int], adapter: Optional[dict],
             inherit: Sequence[str], rpn: bool, rpn_reason: str, same_coders: bool,
             teacher_roi_head: str) -> str:
    """The pair's resolved set-up in one line, for the log."""
    hints = 'no FPN hints'
    if hint_levels:
        hints = f'hints on student levels {list(hint_levels)} ' + (
            f"through {adapter['type']}" if adapter else 'without adapter')
        if any(levels[lvl] != lvl for lvl in hint_levels):
            hints += f' (teacher levels {[levels[lvl] for lvl in hint_levels]})'
    rpn_text = f'RPN not distilled ({rpn_reason})'
    if rpn:
        rpn_text = 'RPN distilled' + ('' if rpn_reason == 'same anchors' else
                                      f' ({rpn_reason})')
    coding = ('same box coding' if same_coders else
              "teacher regression re-encoded in the student's box coding")
    return (f'mmkd: {teacher_roi_head} teacher; {hints}; {rpn_text}; inherited from the '
            f"teacher: {', '.join(inherit) or 'nothing'}; {coding}")
